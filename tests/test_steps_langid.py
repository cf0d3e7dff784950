"""Language ID with heliport on short texts in EU languages; keep list, thresholds, fraction."""

from __future__ import annotations

import pytest

from data_prep.document import Document
from data_prep.steps.langid import LanguageId
from llm_train.errors import ConfigError

SENTENCES = {
    "bg": "Това е кратко изречение на български език за проверка.",
    "cs": "Toto je krátká věta v českém jazyce, která slouží ke kontrole.",
    "da": "Dette er en kort sætning på dansk, som bruges til at teste.",
    "de": "Das ist ein kurzer Satz auf Deutsch, der zum Testen dient.",
    "el": "Αυτή είναι μια σύντομη πρόταση στα ελληνικά για έλεγχο.",
    "en": "This is a short sentence in English that is used for testing.",
    "es": "Esta es una frase corta en español que sirve para probar.",
    "fi": "Tämä on lyhyt suomenkielinen lause, jota käytetään testaamiseen.",
    "fr": "Ceci est une courte phrase en français qui sert à tester.",
    "hr": "Ovo je kratka rečenica na hrvatskom jeziku koja služi za provjeru.",
    "hu": "Ez egy rövid magyar nyelvű mondat, amelyet tesztelésre használunk.",
    "it": "Questa è una breve frase in italiano che serve per fare una prova.",
    "nl": "Dit is een korte zin in het Nederlands die dient om te testen.",
    "pl": "To jest krótkie zdanie po polsku, które służy do testowania.",
    "pt": "Esta é uma frase curta em português que serve para testar.",
    "sv": "Det här är en kort mening på svenska som används för att testa.",
}


@pytest.fixture(scope="module")
def lid() -> LanguageId:
    return LanguageId()


def test_short_texts_in_eu_languages(lid):
    for lang, text in SENTENCES.items():
        d = Document(id=lang, text=text)
        assert lid.filter(d) is True, (lang, d.lang, d.meta)
        assert d.lang == lang
        assert d.meta["lang_score"] > 0
        assert "lang_fraction" not in d.meta  # only sampled where asked for or deciding


def test_keep_list_and_reasons(lid):
    lid_de = LanguageId(keep=["de"])
    d = Document(id="x", text=SENTENCES["fr"])
    assert lid_de.filter(d)[:2] == (False, "langid_not_kept")
    assert d.lang == "fr"
    assert lid.filter(Document(id="y", text="x7 ## 42"))[:2] == (False, "langid_low_score")
    strict = LanguageId(per_lang={"de": {"min_score": 100.0}})
    assert strict.filter(Document(id="z", text=SENTENCES["de"]))[:2] == (False, "langid_low_score")
    assert strict.filter(Document(id="w", text=SENTENCES["nl"])) is True


def test_lang_fraction_flags_mixed_documents():
    text = "\n".join([SENTENCES["de"]] * 3 + [SENTENCES["en"]])
    d = Document(id="m", text=text)
    assert LanguageId(fraction_lines=16).filter(d) is True and d.lang == "de"
    assert 0.6 < d.meta["lang_fraction"] < 0.9
    mixed = LanguageId(min_lang_fraction=0.9)
    assert mixed.filter(Document(id="m2", text=text))[:2] == (False, "langid_low_fraction")
    # a threshold for one language samples lines of that language's documents only
    per_lang = LanguageId(per_lang={"fr": {"min_lang_fraction": 0.5}})
    assert per_lang.filter(d2 := Document(id="m3", text=text)) is True and "lang_fraction" not in d2.meta


def test_stats_use_the_detected_language(lid):
    docs = [Document(id=k, text=v) for k, v in SENTENCES.items()]
    out = list(lid.run(docs))
    assert len(out) == len(docs)
    assert lid.stats.by_lang["hr"]["docs_out"] == 1


def test_bad_params_fail_at_construction():
    with pytest.raises(ConfigError, match="min_lang_fraction"):
        LanguageId(min_lang_fraction=2)


def test_drops_count_documents_and_bytes_per_reason(lid):
    docs = [Document(id="de", text=SENTENCES["de"]), Document(id="junk", text="x7 ## 42 %% 9")]
    step = LanguageId(keep=["fr"])
    assert list(step.run(docs)) == []
    assert step.stats["dropped.langid_not_kept"] == 1
    assert step.stats["dropped_bytes.langid_not_kept"] == len(SENTENCES["de"].encode("utf-8"))
    assert step.stats["dropped.langid_low_score"] == 1
    assert step.stats["dropped_bytes.langid_low_score"] == len("x7 ## 42 %% 9")
    assert step.stats["bytes_dropped"] == step.stats["bytes_in"]
