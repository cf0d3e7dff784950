"""Word splitting shared by the quality filters, with a small per-document cache.

The Gopher, FineWeb and C4 rules count "words". datatrove counts spaCy tokens (a blank
per-language spaCy tokenizer); `spacy_split` runs spaCy's algorithm on spaCy's rules without
spaCy, so the counts are the same. Agreement with datatrove's decisions is measured by
benchmarks/prep_vs_datatrove.py.

Several filters split the same text one after another (Gopher repetition, Gopher quality,
FineWeb), so `words(text, lang)` keeps the last few results keyed by the identity of the text
object (a changed text is a new object): each document is split once.
"""

from __future__ import annotations

from data_prep.resources import char_set
from data_prep.steps.spacy_split import splitter

TERMINAL_PUNCTUATION: tuple[str, ...] = tuple(sorted(char_set("terminal_punctuation")))
# A token made only of these characters is a symbol, not a word (Gopher's definition).
PUNCTUATION: frozenset[str] = char_set("punctuation") | char_set("terminal_punctuation")
PUNCTUATION_CHARS: str = "".join(sorted(PUNCTUATION))

_CACHE: dict[tuple[int, str | None], tuple[str, list[str]]] = {}
_CACHE_SIZE = 8


def words(text: str, lang: str | None) -> list[str]:
    """Tokens of `text` (words and symbols) as the quality rules count them. Do not mutate."""
    key = (id(text), lang)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is text:
        return hit[1]
    toks = splitter(lang).words(text)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    # Holding `text` keeps its id from being reused while the entry lives.
    _CACHE[key] = (text, toks)
    return toks


def sentences(line: str, lang: str | None) -> int:
    """Sentences in one line, as spaCy's sentencizer (datatrove's C4 rule) counts them."""
    return splitter(lang).sentences(line)


def is_word(token: str) -> bool:
    """True when the token has at least one character that is not punctuation."""
    return bool(token.strip(PUNCTUATION_CHARS))
