"""Word n-gram statistics for the Gopher repetition rules, counted as 64-bit hashes with numpy.

datatrove compares the most-frequent n-grams as `" ".join(tokens)` (tokens hold no spaces, so
that is the token sequence: hashed from integer token ids, built for n from n-1 in one step) and
the duplicated n-grams as `"".join(tokens)`, which also equates different splits of the same
characters ("@@"+"@" == "@"+"@@", common in ASCII art). Those are hashed as substrings of the
concatenated tokens with a prefix polynomial hash, so equal strings always get equal hashes.

`profile` answers every n of the filter with one sort of all their hashes together (each n's
hashes salted apart): most documents are a few hundred tokens, where numpy's per-call cost, not
the sorting, is what takes the time.

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
_ONE = np.ones(1, dtype=np.uint64)
_TRUE = np.ones(1, dtype=bool)


_POWERS: list[np.ndarray] = []  # [BASE**k], [BASE**-k] for k < their length: grown, never shrunk


def _powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(BASE**k, BASE**-k) for k = 0..size at least, shared by every document (do not write)."""
    if not _POWERS or len(_POWERS[0]) <= size:
        n = max(size + 1, 2 * len(_POWERS[0]) if _POWERS else 1 << 16)
        with np.errstate(over="ignore"):
            pw = np.cumprod(np.full(n, _BASE, dtype=np.uint64))
            ipw = np.cumprod(np.full(n, _BASE_INV, dtype=np.uint64))
        # shifted by one: the products start at BASE**1
        _POWERS[:] = [np.concatenate((_ONE, pw[:-1])), np.concatenate((_ONE, ipw[:-1]))]
    return _POWERS[0], _POWERS[1]


def _salt(kind: int, n: int) -> np.uint64:
    """Keeps the hashes of different n (and of the two kinds) apart in one sort."""
    return np.uint64((0xA24BAED4963EE407 * (2 * n + kind + 1)) % 2**64)


class NGramStats:
    """n-gram counts over one token list; `top_chars` and `duplicated_chars` mirror datatrove."""

    def __init__(self, toks: list[str], ids: np.ndarray | None = None, lens: np.ndarray | None = None):
        """`ids`: equal for equal tokens (text_stats.DocTokens has them); `lens`: token lengths."""
        self.toks = toks
        if ids is None:
            index: dict[str, int] = {}
            # setdefault keeps the first id seen for a token: ids are equal iff tokens are equal.
            ids = np.fromiter(map(index.setdefault, toks, count()), dtype=np.int64, count=len(toks))
        self.ids = ids.astype(np.uint64)
        if lens is None:
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
            pw, ipw = _powers(len(codes))
            prefix = np.empty(len(codes) + 1, dtype=np.uint64)
            prefix[0] = 0
            with np.errstate(over="ignore"):
                # S[k] = sum over j < k of (code_j + 1) * BASE**-j
                np.cumsum((codes.astype(np.uint64) + 1) * ipw[: len(codes)], out=prefix[1:])
            self._prefix = prefix, pw
        prefix, pw = self._prefix
        start, end = self.cum[: len(self.toks) - n + 1], self.cum[n:]
        with np.errstate(over="ignore"):
            # sum over start <= j < end of (code_j + 1) * BASE**(end - 1 - j): position-free
            return (prefix[end] - prefix[start]) * pw[end - 1]

    def profile(self, top: list[int], dup: list[int]) -> tuple[dict[int, int], dict[int, int]]:
        """({n: top_chars(n)}, {n: duplicated_chars(n)}) for every n that fits the document."""
        size = len(self.toks)
        top = [n for n in top if n <= size]
        dup = [n for n in dup if n <= size]
        if not top and not dup:
            return {}, {}
        parts = []
        with np.errstate(over="ignore"):
            parts += [self._token_hashes(n) ^ _salt(0, n) for n in top]
            parts += [self._joined_hashes(n) ^ _salt(1, n) for n in dup]
        lengths = [len(p) for p in parts]
        h = np.concatenate(parts)
        # stable: within a group, positions (and the n-blocks) stay in order
        order = np.argsort(h, kind="stable")
        ordered = h[order]
        new_group = np.concatenate((_TRUE, ordered[1:] != ordered[:-1]))
        group = np.cumsum(new_group) - 1
        counts = np.bincount(group)
        count_at = np.empty(len(h), dtype=np.int64)
        count_at[order] = counts[group]  # how often each position's hash occurs (in its block)
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        tops, dups = {}, {}
        for k, n in enumerate(top):
            block = count_at[offsets[k] : offsets[k + 1]]
            best = int(block.max())
            pos = int(np.argmax(block == best))  # the first n-gram with the top count
            tops[n] = (int(self.cum[pos + n] - self.cum[pos]) + n - 1) * best
        for k, n in enumerate(dup, start=len(top)):
            repeated_at = np.flatnonzero(count_at[offsets[k] : offsets[k + 1]] > 1)
            dups[n] = self._greedy(n, repeated_at) if len(repeated_at) else 0
        return tops, dups

    def _greedy(self, n: int, repeated_at: np.ndarray) -> int:
        """datatrove's `find_all_duplicate` scan (a repeat skips its n positions), visiting only
        positions whose hash occurs more than once: the others are never "seen before"."""
        toks = self.toks
        seen: set[str] = set()
        repeated = frontier = 0
        for idx in repeated_at.tolist():
            if idx < frontier:
                continue  # inside the n-gram just counted as a repeat
            gram = "".join(toks[idx : idx + n])
            if gram in seen:
                repeated += len(gram)
                frontier = idx + n
            else:
                seen.add(gram)
        return repeated

    def top_chars(self, n: int) -> int:
        """Characters of the most frequent n-gram joined with spaces, times its count.

        Ties go to the n-gram that occurs first, as Counter.most_common(1) does. Needs n <= len(toks).
        """
        return self.profile([n], [])[0][n]

    def duplicated_chars(self, n: int) -> int:
        """Characters in n-grams (joined without spaces) that repeat an earlier one."""
        return self.profile([], [n])[1].get(n, 0)
