"""Word n-gram statistics for the Gopher repetition rules, counted in C (`_native.c`).

datatrove compares the most-frequent n-grams as `" ".join(tokens)` (tokens hold no spaces, so
that is the token sequence: compared as token ids) and the duplicated n-grams as `"".join(tokens)`,
which also equates different splits of the same characters ("@@"+"@" == "@"+"@@", common in ASCII
art): compared as the characters of the joined tokens. It builds a Python string per n-gram; the
compiled loop keeps positions in a hash table and confirms every hash match against the tokens or
characters, so the counts are exact (tests/test_ngram_stats.py checks them against datatrove's
algorithm).
"""

from __future__ import annotations

from itertools import count

import numpy as np

try:
    from data_prep.steps._native import ngram_profile
except ImportError:  # a source tree used without `pip install`: said when a filter needs it
    ngram_profile = None

NOT_BUILT = (
    "data_prep.steps._native is not built: install the project with `pip install -e .` "
    "(it compiles one small C module; needs a C compiler)"
)


class NGramStats:
    """n-gram counts over one token list; `top_chars` and `duplicated_chars` mirror datatrove."""

    def __init__(self, toks: list[str], ids: np.ndarray | None = None, lens: np.ndarray | None = None):
        """`ids`: equal for equal tokens (text_stats.DocTokens has them); `lens`: token lengths."""
        if ngram_profile is None:
            raise ImportError(NOT_BUILT)
        self.toks = toks
        if ids is None:
            index: dict[str, int] = {}
            # setdefault keeps the first id seen for a token: ids are equal iff tokens are equal.
            ids = np.fromiter(map(index.setdefault, toks, count()), dtype=np.int64, count=len(toks))
        self.ids = np.ascontiguousarray(ids, dtype=np.int64)
        if lens is None:
            lens = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
        self.cum = np.zeros(len(toks) + 1, dtype=np.int64)  # toks[i:j] spans chars cum[i]:cum[j]
        np.cumsum(lens, out=self.cum[1:])

    def profile(self, top: list[int], dup: list[int]) -> tuple[dict[int, int], dict[int, int]]:
        """({n: top_chars(n)}, {n: duplicated_chars(n)}) for every n that fits the document."""
        # surrogatepass: a lone surrogate (from JSON "\ud800") is a character like any other
        codes = "".join(self.toks).encode("utf-32-le", "surrogatepass") if dup else b""
        return ngram_profile(self.ids, self.cum, codes, top, dup)

    def top_chars(self, n: int) -> int:
        """Characters of the most frequent n-gram joined with spaces, times its count.

        Ties go to the n-gram that occurs first, as Counter.most_common(1) does. Needs n <= len(toks).
        """
        return self.profile([n], [])[0][n]

    def duplicated_chars(self, n: int) -> int:
        """Characters in n-grams (joined without spaces) that repeat an earlier one."""
        return self.profile([], [n])[1].get(n, 0)
