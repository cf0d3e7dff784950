"""Word splitting shared by the quality filters: each document is split once.

The Gopher, FineWeb and C4 rules count "words". datatrove counts spaCy tokens (a blank
per-language spaCy tokenizer); `spacy_split` runs spaCy's algorithm on spaCy's rules without
spaCy, so the counts are the same. Agreement with datatrove's decisions is measured by
benchmarks/prep_vs_datatrove.py.

Several filters look at the same text one after another (Gopher repetition, Gopher quality,
FineWeb), so `doc_tokens(text, lang)` keeps the results of the last few hundred documents (the steps
run in bursts), keyed by the identity of the text object (a changed text is a new object). Besides
the tokens it gives each token an id (equal ids for equal tokens, the same across documents) and
per-id facts (length, is it a word, has it a letter), so the filters count with numpy instead of
looping over tokens.
"""

from __future__ import annotations

import re

import numpy as np

from data_prep.pipeline.step import BURST
from data_prep.resources import char_set
from data_prep.steps.spacy_split import splitter

try:
    from data_prep.steps import _native
except ImportError:  # a source tree without `pip install -e .`: the Python versions below
    _native = None

TERMINAL_PUNCTUATION: tuple[str, ...] = tuple(sorted(char_set("terminal_punctuation")))
# A token made only of these characters is a symbol, not a word (Gopher's definition).
PUNCTUATION: frozenset[str] = char_set("punctuation") | char_set("terminal_punctuation")
PUNCTUATION_CHARS: str = "".join(sorted(PUNCTUATION))

_CACHE: dict[tuple[int, str | None], tuple[str, DocTokens]] = {}
_CACHE_SIZE = 4 * BURST  # a burst of documents, and their texts after C4 rewrote them, twice over
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
        self.add([tok])
        return self[tok]

    def add(self, toks: list[str]) -> None:
        """Give ids to tokens not in the table yet (in order of first sight), with their facts."""
        new = [t for t in dict.fromkeys(toks) if t not in self]
        first = len(self)
        self.update(zip(new, range(first, first + len(new)), strict=True))
        while len(self) > len(self.length):
            for name in ("length", "is_word", "has_alpha"):
                old = getattr(self, name)
                setattr(self, name, np.concatenate((old, np.zeros_like(old))))
        end = len(self)
        self.length[first:end] = list(map(len, new))
        self.is_word[first:end] = [bool(t.strip(PUNCTUATION_CHARS)) for t in new]
        alpha = _HAS_ALPHA.search
        self.has_alpha[first:end] = [
            (m := alpha(t)) is not None and (m.group().isalpha() or any(c.isalpha() for c in t)) for t in new
        ]


_TABLE = _TokenTable()


def _lookup_ids(tokens: list[str], table: dict, out: np.ndarray) -> int:
    out[:] = [table.get(t, -1) for t in tokens]
    return int(np.count_nonzero(out < 0))


# out[i] = table[tokens[i]], -1 where the table has none; returns how many it lacks. C when built.
lookup_ids = _native.lookup_ids if _native is not None else _lookup_ids


class DocTokens:
    """One document's tokens, their ids in the shared table, and their lengths."""

    __slots__ = ("toks", "_ids")

    def __init__(self, toks: list[str]):
        self.toks = toks
        self._ids: np.ndarray | None = None

    @property
    def ids(self) -> np.ndarray:
        if self._ids is None:
            toks = self.toks
            ids = np.empty(len(toks), dtype=np.int64)
            if lookup_ids(toks, _TABLE, ids):  # tokens never seen: their ids are made here, in order
                at = np.flatnonzero(ids < 0)
                unseen = [toks[i] for i in at.tolist()]
                _TABLE.add(unseen)
                found = np.empty(len(unseen), dtype=np.int64)
                lookup_ids(unseen, _TABLE, found)
                ids[at] = found
            self._ids = ids
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
        del _CACHE[next(iter(_CACHE))]  # the oldest: the steps run in bursts, in order
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
