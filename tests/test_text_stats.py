"""words() against spaCy's blank tokenizers (what datatrove counts): expected lists are spaCy 3.8 output."""

import pytest

from data_prep.steps.text_stats import words


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        # base exceptions: emoticons and "''" stay one token, also when they end a chunk ("):")
        ("en", "Options (default): none :) ok", ["Options", "(", "default", "):", "none", ":)", "ok"]),
        ("de", "Siehe str): oder ;) hier", ["Siehe", "str", "):", "oder", ";)", "hier"]),
        ("en", "He said hi'' twice", ["He", "said", "hi", "''", "twice"]),
    ],
)
def test_emoticons_and_base_exceptions(lang, text, expected):
    assert words(text, lang) == expected


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("en", "Download 1242MB or 3G now", ["Download", "1242", "MB", "or", "3", "G", "now"]),
        ("pt", "Tamanho 350MB e 80kg", ["Tamanho", "350", "MB", "e", "80", "kg"]),
        # currency is a prefix anywhere but a suffix only after a digit
        ("en", "Cost name$ and $5 or 5$", ["Cost", "name$", "and", "$", "5", "or", "5", "$"]),
    ],
)
def test_units_and_currency_after_digits(lang, text, expected):
    assert words(text, lang) == expected


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        (
            "en",
            "Use fs.FileNaming in oMenu.AddItem today",
            ["Use", "fs", ".", "FileNaming", "in", "oMenu", ".", "AddItem", "today"],
        ),
        ("sl", "Kliči myCollection.Add tukaj", ["Kliči", "myCollection", ".", "Add", "tukaj"]),
    ],
)
def test_dot_between_lowercase_and_capital_is_an_infix(lang, text, expected):
    assert words(text, lang) == expected


def test_english_contractions():
    text = "I can't and don't, cannot: you're right, I'm sure."
    expected = ["I", "ca", "n't", "and", "do", "n't", ",", "can", "not", ":", "you", "'re", "right", ","]
    assert words(text, "en") == [*expected, "I", "'m", "sure", "."]
    # other languages keep the apostrophe inside the word
    assert words("don't", "de") == ["don't"]


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        # a final "." stays after characters outside spaCy's suffix context ("⟩")
        (
            "da",
            "Skriv til ⟨debian-l10n-danish@lists.debian.org⟩.",
            ["Skriv", "til", "⟨debian-l10n-danish@lists.debian.org⟩."],
        ),
        # "a." ... "z." are exceptions; a lone capital keeps its dot too
        ("en", "see l. and T. Smith", ["see", "l.", "and", "T.", "Smith"]),
        # without a language exception "e.g." loses its final dot; "z.B." splits after "z."
        ("cs", "viz e.g. a z.B. nebo T. Novák", ["viz", "e.g", ".", "a", "z.", "B.", "nebo", "T.", "Novák"]),
        ("cs", "Verze 2.0. Hotovo", ["Verze", "2.0", ".", "Hotovo"]),
    ],
)
def test_final_dot(lang, text, expected):
    assert words(text, lang) == expected


def test_polish_splits_every_dot_and_hyphen():
    expected = ["Czekaj", ".", ".", ".", "-", "-", "help", "5", ".", "4", ":P"]
    assert words("Czekaj... --help 5.4 :P", "pl") == expected
    assert words("Czekaj... dalej", "cs") == ["Czekaj", "...", "dalej"]
