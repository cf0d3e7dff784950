"""Quality filters on tiny handmade documents: the exact drop reason, in several languages."""

from __future__ import annotations

import pytest

from data_prep.document import Document
from data_prep.pipeline.registry import STEPS, build_steps
from data_prep.steps.c4 import C4QualityFilter
from data_prep.steps.fineweb_quality import FineWebQualityFilter
from data_prep.steps.gopher_quality import GopherQualityFilter
from data_prep.steps.gopher_repetition import GopherRepetitionFilter
from data_prep.steps.text_stats import words
from llm_train.errors import ConfigError

DE = (
    "Der Dienst bietet Zugriff auf die Datenbank und ihre Tabellen. Die Anweisungen werden an die "
    "Datenbank übertragen, wenn der Benutzer sie ausführt. Es gibt einfache Tabellen und Abfragen "
    "sowie den Zugriff auf alle Daten in einem Dokument. Mit dieser Methode kann man auch Formulare "
    "öffnen und die Ergebnisse für weitere Berechnungen verwenden, ohne das Dokument zu schließen."
)
PL = (
    "Usługa zapewnia dostęp do bazy danych i jej tabel. Polecenia są przekazywane do bazy, gdy "
    "użytkownik je wykonuje. Można także otworzyć formularze oraz raporty, które są zapisane w "
    "dokumencie, a wyniki wykorzystać w dalszych obliczeniach bez zamykania dokumentu. To jest "
    "bardzo przydatne, kiedy pracujemy z wieloma plikami jednocześnie i chcemy je porównać."
)


def doc(text: str, lang: str) -> Document:
    return Document(id="d", text=text, lang=lang)


def test_good_documents_pass_all_filters():
    for text, lang in ((DE, "de"), (PL, "pl")):
        for f in (GopherQualityFilter(), GopherRepetitionFilter(), FineWebQualityFilter()):
            assert f.filter(doc(text, lang)) is True, (f.name, lang)


@pytest.mark.parametrize(
    "text,lang,reason",
    [
        ("Zu kurz, nur ein paar Wörter.", "de", "gopher_short_doc"),
        (" ".join(["ab"] * 60), "pl", "gopher_below_avg_word_len"),
        (" ".join(["Donaudampfschifffahrtsgesellschaft"] * 60), "de", "gopher_above_avg_word_len"),
        (DE + " #" * 30, "de", "gopher_too_many_hashes"),
        (DE + " ..." * 30, "de", "gopher_too_many_ellipsis"),
        ("\n".join(f"- {w} und die Liste" for w in DE.split()[:60]), "de", "gopher_too_many_bullets"),
        (
            "\n".join(
                f"{w} und die Sache ist hier wirklich sehr gut und lang beschrieben worden" + "..." * (i % 2)
                for i, w in enumerate(DE.split()[:60])
            ),
            "de",
            "gopher_too_many_end_ellipsis",
        ),
        (DE + " 1234 5678 90 12 " * 30, "de", "gopher_below_alpha_ratio"),
    ],
)
def test_gopher_quality_reasons(text, lang, reason):
    assert GopherQualityFilter().filter(doc(text, lang))[:2] == (False, reason)


def test_stop_words_are_the_documents_language():
    # German text has German stop words but not English ones: kept as de, dropped as en.
    f = GopherQualityFilter()
    assert f.filter(doc(DE, "de")) is True
    no_english = DE.replace(" an ", " zu ").replace(" in ", " aus ")
    assert f.filter(doc(no_english, "de")) is True
    assert f.filter(doc(no_english, "en"))[:2] == (False, "gopher_few_stop_words")
    # A per-language override changes only that language.
    f = GopherQualityFilter(per_lang={"de": {"min_doc_words": 500}})
    assert f.filter(doc(DE, "de"))[:2] == (False, "gopher_short_doc")
    assert f.filter(doc(PL, "pl")) is True


@pytest.mark.parametrize(
    "text,reason",
    [
        ("", "gopher_rep_empty"),
        ("\n\n".join(["Ein Absatz hier.", "Ein Absatz hier.", "Noch einer."]), "gopher_rep_dup_para_frac"),
        ("\n".join(["eins", "zwei", "eins", "eins", "drei"]), "gopher_rep_dup_line_frac"),
        (DE + " " + " ".join(["die Datenbank"] * 40), "gopher_rep_top_2_gram"),
    ],
)
def test_gopher_repetition_reasons(text, reason):
    assert GopherRepetitionFilter().filter(doc(text, "de"))[:2] == (False, reason)


@pytest.mark.parametrize(
    "text,reason",
    [
        ("Nur eine Zeile ohne Punkt\nund noch eine\nund eine dritte", "fineweb_line_punct_ratio"),
        ("Kurz.\nAuch kurz.\nNoch kurz.\n" + DE, "fineweb_short_line_ratio"),
        (DE + "\n" + DE, "fineweb_char_dup_ratio"),
        (
            "\n".join(f"Schifffahrtsgesellschaftsnummer{i} Mützenverwaltungen." for i in range(40)),
            "fineweb_list_ratio",
        ),
        ("  \n \n", "fineweb_empty"),
    ],
)
def test_fineweb_reasons(text, reason):
    assert FineWebQualityFilter(short_line_thr=0.67).filter(doc(text, "de"))[:2] == (False, reason)


def test_c4_removes_bad_lines_and_drops_pages():
    lines = [
        "Das ist der erste vollständige Satz. Und hier folgt gleich der zweite.",
        "Eine Zeile ohne Schlusspunkt",
        "Bitte aktivieren Sie JavaScript in Ihrem Browser.",
        "Der dritte Satz steht hier. Der vierte Satz auch. Und noch ein fünfter!",
        "Zu kurz.",
    ]
    d = doc("\n".join(lines), "de")
    assert C4QualityFilter().filter(d) is True
    assert d.text == "\n".join([lines[0], lines[3]])
    assert C4QualityFilter().filter(doc(lines[0], "de"))[:2] == (False, "c4_too_few_sentences")
    lorem = doc("Lorem ipsum dolor sit amet, consectetur adipiscing elit.", "it")
    assert C4QualityFilter().filter(lorem)[:2] == (False, "c4_lorem_ipsum")
    code = doc("Schreiben Sie dann function f() { return 1; } in die Datei.", "de")
    assert C4QualityFilter().filter(code)[:2] == (False, "c4_curly_bracket")
    # the line rules see the line after its citations are removed: "java[1]script" is "javascript"
    cited = doc("\n".join([lines[0], "Diese Seite braucht Java[1]Script zum Laufen.", lines[3]]), "de")
    f = C4QualityFilter()
    assert f.filter(cited) is True and "Java" not in cited.text
    assert f.stats.counters["c4.line_javascript"] == 1


def test_tokenizer_follows_language_rules():
    assert words("E-Mail-Adresse (siehe oben).", "de") == ["E-Mail-Adresse", "(", "siehe", "oben", ")", "."]
    assert words("well-known e-mail", "en") == ["well", "-", "known", "e", "-", "mail"]
    assert words("l'homme d'affaires", "fr") == ["l'", "homme", "d'", "affaires"]
    assert words("See https://example.org/a?b=1.", "en") == ["See", "https://example.org/a?b=1", "."]


def test_steps_are_registered_and_validate_params():
    assert {
        "normalize",
        "langid",
        "gopher_quality",
        "gopher_repetition",
        "c4",
        "fineweb_quality",
        "pii",
        "optout",
    } <= set(STEPS)
    with pytest.raises(ConfigError, match="unknown parameter.*min_words.*valid:"):
        GopherQualityFilter(min_words=3)
    with pytest.raises(ConfigError, match="max_bullet_lines_ratio must be in"):
        GopherQualityFilter(max_bullet_lines_ratio=3)
    with pytest.raises(ConfigError, match="per_lang.de: unknown parameter"):
        FineWebQualityFilter(per_lang={"de": {"nope": 1}})
    with pytest.raises(ConfigError, match="steps.gopher_repetition"):
        build_steps([("gopher_repetition", {"dup_n_grams": [[5]]})])


def test_filter_stats_count_reasons_per_language():
    f = GopherQualityFilter()
    out = list(f.run([doc(DE, "de"), doc("kurz", "de"), doc(PL, "pl")]))
    assert len(out) == 2
    assert f.stats.by_lang["de"]["dropped.gopher_short_doc"] == 1
    assert f.stats["docs_out"] == 2


def test_gopher_line_and_paragraph_counts_match_datatrove_regexes():
    """The str.split paths give what datatrove's re.split and its seen-set loop give."""
    import random
    import re

    from data_prep.steps.gopher_repetition import find_duplicates, split_lines, split_paragraphs

    def reference_duplicates(items):
        seen, dup, chars = set(), 0, 0
        for item in items:
            if item in seen:
                dup, chars = dup + 1, chars + len(item)
            seen.add(item)
        return dup, chars

    rng = random.Random(0)
    for _ in range(5000):
        text = "".join(rng.choice(["a", "b", "\n", "\n", " ", "cd"]) for _ in range(rng.randint(0, 16)))
        assert split_lines(text) == re.split(r"\n+", text), repr(text)
        assert split_paragraphs(text) == re.split(r"\n{2,}", text), repr(text)
        for items in (split_lines(text), split_paragraphs(text), text.split(" ")):
            assert find_duplicates(items) == reference_duplicates(items), repr(text)
