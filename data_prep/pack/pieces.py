"""The pre-tokenizer split of our tokenizers (`SPLIT_PATTERN`), in C when it is built.

`regex.findall(SPLIT_PATTERN, text)` was a third of pack's time. `_pieces.c` matches the pattern's
alternatives by hand; which characters are letters, numbers and white space, and which ones the
case-insensitive contractions accept, come from a table built here with the `regex` module
itself, so the two cannot disagree on Unicode (tests/test_pack_pieces.py fuzzes them).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from itertools import chain

import numpy as np
import regex

from data_prep.tokenizer.model import SPLIT_PATTERN

try:
    from data_prep.pack import _pieces
except ImportError:  # a source tree used without `pip install -e .`: the regex does it, slower
    _pieces = None

# The bits of _pieces.c, in its order: LETTER, NUMBER, SPACE, then what (?i:s), (?i:t)... accept.
_CLASSES = [r"\p{L}", r"\p{N}", r"\s", *(f"(?i:{c})" for c in "strevmld")]


@lru_cache(maxsize=1)
def char_table() -> bytes:
    """uint16 per code point: bit k set when the k-th class of `_CLASSES` matches it."""
    every = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    table = np.zeros(0x110000, dtype=np.uint16)
    for bit, pattern in enumerate(_CLASSES):
        at = np.fromiter((m.start() for m in regex.finditer(pattern, every)), dtype=np.int64)
        table[at] |= np.uint16(1 << bit)
    return table.tobytes()


def splitter(pattern: str) -> Callable[[str], list[str]]:
    """`regex.compile(pattern).findall`, or the same split in C for SPLIT_PATTERN."""
    if pattern == SPLIT_PATTERN and _pieces is not None:
        table, split = char_table(), _pieces.split
        return lambda text: split(text, table)
    return regex.compile(pattern).findall


def _flatten(pieces: list[str], cache: dict, fill: Callable[[list[str]], None]) -> tuple[bytes, list[int]]:
    ids = list(map(cache.get, pieces))
    if None in ids:
        fill(list(dict.fromkeys(p for p, i in zip(pieces, ids, strict=True) if i is None)))
        ids = [cache[p] if i is None else i for p, i in zip(pieces, ids, strict=True)]
    sizes = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    ends = np.cumsum(sizes)[[i for i, p in enumerate(pieces) if not p]].tolist()
    return np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(sizes.sum())).tobytes(), ends


# The piece cache's loop: every piece's ids in one array, and where each text ends (a "" piece
# marks it); `fill` is called once with the pieces the cache lacks. In C when built.
flatten = _pieces.flatten if _pieces is not None else _flatten
