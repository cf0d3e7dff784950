"""Word n-gram statistics for the Gopher repetition rules, counted as 64-bit hashes with numpy.

datatrove compares the most-frequent n-grams as `" ".join(tokens)` (tokens hold no spaces, so
that is the token sequence: hashed from integer token ids, built for n from n-1 in one step) and
the duplicated n-grams as `"".join(tokens)`, which also equates different splits of the same
characters ("@@"+"@" == "@"+"@@", common in ASCII art). Those are hashed as substrings of the
concatenated tokens with a prefix polynomial hash, so equal strings always get equal hashes.

All arithmetic wraps modulo 2**64. A collision can only add candidates to the duplicate scan,
which then compares the joined strings themselves: its result is exact. The top n-gram count
would be off only on a 64-bit collision.
"""

from __future__ import annotations

from itertools import count

import numpy as np

_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio): spreads the ids
# Odd, hence invertible modulo 2**64: a substring's hash needs the inverse powers.
_BASE = 0x100000001B3
_BASE_INV = pow(_BASE, -1, 2**64)
_ZERO = np.zeros(1, dtype=np.uint64)
_ONE = np.ones(1, dtype=np.uint64)
_TRUE = np.ones(1, dtype=bool)


class NGramStats:
    """n-gram counts over one token list; `top_chars` and `duplicated_chars` mirror datatrove."""

    def __init__(self, toks: list[str]):
        self.toks = toks
        index: dict[str, int] = {}
        # setdefault keeps the first id seen for a token: ids are equal iff tokens are equal.
        self.ids = np.fromiter(map(index.setdefault, toks, count()), dtype=np.uint64, count=len(toks))
        lens = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
        self.cum = np.concatenate(([0], np.cumsum(lens)))  # toks[i:j] spans chars cum[i]:cum[j]
        self._ids_hash: dict[int, np.ndarray] = {1: self.ids}
        self._prefix: tuple[np.ndarray, np.ndarray] | None = None

    def _token_hashes(self, n: int) -> np.ndarray:
        """Hash of the token sequence starting at each position (length len(toks) - n + 1)."""
        h = self._ids_hash.get(n)
        if h is None:
            with np.errstate(over="ignore"):
                h = self._token_hashes(n - 1)[:-1] * _MULT + self.ids[n - 1 :]
            self._ids_hash[n] = h
        return h

    def _joined_hashes(self, n: int) -> np.ndarray:
        """Hash of `"".join(toks[i:i + n])` for each position i (polynomial in the characters)."""
        if self._prefix is None:
            codes = np.frombuffer("".join(self.toks).encode("utf-32-le"), dtype=np.uint32)
            size = len(codes)
            with np.errstate(over="ignore"):
                pw = np.cumprod(np.full(size, _BASE, dtype=np.uint64))  # BASE**(j+1)
                ipw = np.cumprod(np.full(size, _BASE_INV, dtype=np.uint64)) * np.uint64(_BASE)
                # S[k] = sum over j < k of (code_j + 1) * BASE**-j
                prefix = np.cumsum((codes.astype(np.uint64) + 1) * ipw)
            # (uint64 concatenated with a Python int list would go through float64)
            self._prefix = np.concatenate((_ZERO, prefix)), np.concatenate((_ONE, pw))
        prefix, pw = self._prefix
        start, end = self.cum[: len(self.toks) - n + 1], self.cum[n:]
        with np.errstate(over="ignore"):
            # sum over start <= j < end of (code_j + 1) * BASE**(end - 1 - j): position-free
            return (prefix[end] - prefix[start]) * pw[end - 1]

    def top_chars(self, n: int) -> int:
        """Characters of the most frequent n-gram joined with spaces, times its count.

        Ties go to the n-gram that occurs first, as Counter.most_common(1) does. Needs n <= len(toks).
        """
        h = self._token_hashes(n)
        order = np.argsort(h, kind="stable")  # stable: each group starts at its first position
        ordered = h[order]
        starts = np.flatnonzero(np.concatenate((_TRUE, ordered[1:] != ordered[:-1])))
        counts = np.diff(np.append(starts, len(h)))
        best = counts.max()
        pos = int(order[starts[counts == best]].min())
        return (int(self.cum[pos + n] - self.cum[pos]) + n - 1) * int(best)

    def duplicated_chars(self, n: int) -> int:
        """Characters in n-grams (joined without spaces) that repeat an earlier one.

        The greedy scan of datatrove's `find_all_duplicate` (a repeat skips its n positions),
        visiting only positions whose hash occurs more than once: the others are never
        "seen before", so skipping them changes nothing.
        """
        if len(self.toks) < n:
            return 0
        h = self._joined_hashes(n)
        order = np.argsort(h)
        ordered = h[order]
        same = ordered[1:] == ordered[:-1]
        if not same.any():
            return 0
        repeated_at = np.zeros(len(h), dtype=bool)
        repeated_at[order[1:][same]] = True
        repeated_at[order[:-1][same]] = True
        toks = self.toks
        seen: set[str] = set()
        repeated = frontier = 0
        for idx in np.flatnonzero(repeated_at).tolist():
            if idx < frontier:
                continue  # inside the n-gram just counted as a repeat
            gram = "".join(toks[idx : idx + n])
            if gram in seen:
                repeated += len(gram)
                frontier = idx + n
            else:
                seen.add(gram)
        return repeated
