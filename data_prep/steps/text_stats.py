"""Word splitting shared by the quality filters: each document is split once.

The Gopher, FineWeb and C4 rules count "words". datatrove counts spaCy tokens (a blank
per-language spaCy tokenizer); `spacy_split` runs spaCy's algorithm on spaCy's rules without
spaCy, so the counts are the same. Agreement with datatrove's decisions is measured by
benchmarks/prep_vs_datatrove.py.

Several filters look at the same text one after another (Gopher repetition, Gopher quality,
FineWeb), so `doc_tokens(text, lang)` keeps the last few results keyed by the identity of the
text object (a changed text is a new object). Besides the tokens it gives each token an id
(equal ids for equal tokens, the same across documents) and per-id facts (length, is it a word,
has it a letter), so the filters count with numpy instead of looping over tokens.
"""

from __future__ import annotations

import re

import numpy as np

from data_prep.resources import char_set
from data_prep.steps.spacy_split import splitter

TERMINAL_PUNCTUATION: tuple[str, ...] = tuple(sorted(char_set("terminal_punctuation")))
# A token made only of these characters is a symbol, not a word (Gopher's definition).
PUNCTUATION: frozenset[str] = char_set("punctuation") | char_set("terminal_punctuation")
PUNCTUATION_CHARS: str = "".join(sorted(PUNCTUATION))

_CACHE: dict[tuple[int, str | None], tuple[str, DocTokens]] = {}
_CACHE_SIZE = 8
_MAX_IDS = 2_000_000  # distinct tokens remembered (then the table starts over)
# A letter as str.isalpha says (the regex class also takes "²", "½": checked again below).
_HAS_ALPHA = re.compile(r"[^\W\d_]")


class _TokenTable(dict):
    """token -> id, growing on first sight, with numpy arrays of facts per id."""

    def __init__(self):
        super().__init__()
        self.length = np.zeros(1024, dtype=np.int64)
        self.is_word = np.zeros(1024, dtype=bool)  # not only punctuation
        self.has_alpha = np.zeros(1024, dtype=bool)

    def __missing__(self, tok: str) -> int:
        i = self[tok] = len(self)
        if i >= len(self.length):
            for name in ("length", "is_word", "has_alpha"):
                old = getattr(self, name)
                setattr(self, name, np.concatenate((old, np.zeros_like(old))))
        self.length[i] = len(tok)
        self.is_word[i] = bool(tok.strip(PUNCTUATION_CHARS))
        m = _HAS_ALPHA.search(tok)
        self.has_alpha[i] = bool(m) and (m.group().isalpha() or any(c.isalpha() for c in tok))
        return i


_TABLE = _TokenTable()


class DocTokens:
    """One document's tokens, their ids in the shared table, and their lengths."""

    __slots__ = ("toks", "_ids")

    def __init__(self, toks: list[str]):
        self.toks = toks
        self._ids: np.ndarray | None = None

    @property
    def ids(self) -> np.ndarray:
        if self._ids is None:
            self._ids = np.fromiter(map(_TABLE.__getitem__, self.toks), dtype=np.int64, count=len(self.toks))
        return self._ids

    @property
    def lengths(self) -> np.ndarray:
        return _TABLE.length[self.ids]

    def facts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(length, is_word, has_alpha) of every token."""
        ids = self.ids
        return _TABLE.length[ids], _TABLE.is_word[ids], _TABLE.has_alpha[ids]


def doc_tokens(text: str, lang: str | None) -> DocTokens:
    key = (id(text), lang)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is text:
        return hit[1]
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    if len(_TABLE) >= _MAX_IDS:
        _TABLE.clear()  # ids of cached documents would now be stale
        _CACHE.clear()
    doc = DocTokens(splitter(lang).words(text))
    # Holding `text` keeps its id from being reused while the entry lives.
    _CACHE[key] = (text, doc)
    return doc


def words(text: str, lang: str | None) -> list[str]:
    """Tokens of `text` (words and symbols) as the quality rules count them. Do not mutate."""
    return doc_tokens(text, lang).toks


def sentences(line: str, lang: str | None) -> int:
    """Sentences in one line, as spaCy's sentencizer (datatrove's C4 rule) counts them."""
    return splitter(lang).sentences(line)


def is_word(token: str) -> bool:
    """True when the token has at least one character that is not punctuation."""
    return bool(token.strip(PUNCTUATION_CHARS))
