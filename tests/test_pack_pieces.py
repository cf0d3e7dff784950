"""The C pre-tokenizer split gives exactly `regex.findall(SPLIT_PATTERN, text)`."""

from __future__ import annotations

import random

import regex

from data_prep.pack import pieces
from data_prep.tokenizer.model import SPLIT_PATTERN
from tests.test_tokenizer import random_strings

REFERENCE = regex.compile(SPLIT_PATTERN).findall

# Characters where the alternatives meet: contractions and what (?i:) folds onto them (ſ -> s),
# newlines and other white space, letters, numbers of several kinds, symbols, a lone surrogate.
EDGES = list("aZ'sStTrReEvVmMlLdDſK \r\n\t\x0b\x0c\x1c\x1f\x85\xa0.,!?-()0123456789") + list(
    "\u2028\u3000\u200béß日٣Ⅻ²½ǅ\ud800😀\U0001d7d8"
)


def test_the_compiled_split_is_used():
    assert pieces._pieces is not None, "data_prep.pack._pieces is not built (pip install -e .)"
    assert pieces.splitter(SPLIT_PATTERN) is not None


def test_matches_the_regex_on_edge_alphabets():
    split = pieces.splitter(SPLIT_PATTERN)
    rng = random.Random(0)
    for _ in range(50_000):
        text = "".join(rng.choice(EDGES) for _ in range(rng.randint(0, 12)))
        assert split(text) == REFERENCE(text), repr(text)


def test_matches_the_regex_on_any_code_point():
    split = pieces.splitter(SPLIT_PATTERN)
    rng = random.Random(1)
    for _ in range(5_000):
        text = "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randint(1, 20)))
        assert split(text) == REFERENCE(text), repr(text)
    for text in random_strings(4, 300):
        assert split(text) == REFERENCE(text), repr(text)


def test_other_patterns_use_the_regex():
    assert pieces.splitter(r"\w+|\W")("ab, c") == ["ab", ",", " ", "c"]
