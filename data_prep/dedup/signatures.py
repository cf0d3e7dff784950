"""Per-document dedup keys: a normalized-text hash (exact dedup) and MinHash LSH band hashes.

Both are computed in the per-shard stage, so the global stage only reads small arrays.
Texts are normalized the same way for both: lower case, punctuation dropped, whitespace
collapsed. Shingles are word n-grams (FineWeb: 5-grams, 14 bands x 8 rows); a text shorter
than n words is one shingle. MinHash is rensa's (Rust) with a fixed seed, so signatures are the
same in every process and on every run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import rensa
import xxhash

_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class MinHashParams:
    ngram: int = 5
    bands: int = 14
    rows: int = 8
    seed: int = 1

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows


def words(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


def exact_hash(tokens: list[str]) -> int:
    return xxhash.xxh64_intdigest(" ".join(tokens).encode("utf-8"))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a cheap, well-spread 64-bit hash of 64-bit integers (vectorized)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def shingle_hashes(tokens: list[str], ngram: int) -> np.ndarray:
    """64-bit hashes of the word n-grams of `tokens` (order-sensitive within each n-gram)."""
    if not tokens:
        return np.zeros(1, dtype=np.uint64)
    h = np.fromiter(
        (xxhash.xxh64_intdigest(t.encode("utf-8")) for t in tokens), dtype=np.uint64, count=len(tokens)
    )
    n = min(ngram, len(h))
    count = len(h) - n + 1
    acc = h[:count].copy()
    with np.errstate(over="ignore"):
        for k in range(1, n):
            acc = _mix(acc * np.uint64(0x9E3779B97F4A7C15) ^ h[k : k + count])
    return acc


class SignatureBatch:
    """Collects shingle hashes of many documents; `bands()` computes all their LSH band hashes at once."""

    def __init__(self, params: MinHashParams):
        self.params = params
        self._hashes: list[np.ndarray] = []

    def add(self, shingles: np.ndarray) -> None:
        self._hashes.append(shingles)

    def __len__(self) -> int:
        return len(self._hashes)

    def bands(self) -> np.ndarray:
        """uint64 array [docs, bands]: equal rows in a band mean a candidate duplicate pair."""
        p = self.params
        if not self._hashes:
            return np.zeros((0, p.bands), dtype=np.uint64)
        offsets = np.zeros(len(self._hashes) + 1, dtype=np.uint64)
        np.cumsum([len(h) for h in self._hashes], out=offsets[1:])
        flat = np.concatenate(self._hashes)
        matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(flat, offsets, p.num_perm, p.seed)
        digests = np.asarray(matrix.to_rows(), dtype=np.uint64).reshape(len(self._hashes), p.bands, p.rows)
        # Fold each band's rows into one 64-bit key; the band index is mixed in so that equal
        # rows in different bands never collide.
        acc = np.broadcast_to(
            _mix(np.arange(p.bands, dtype=np.uint64) + np.uint64(p.seed)), digests.shape[:2]
        ).copy()
        with np.errstate(over="ignore"):
            for r in range(p.rows):
                acc = _mix(acc * np.uint64(0x9E3779B97F4A7C15) ^ digests[:, :, r])
        self._hashes.clear()
        return acc
