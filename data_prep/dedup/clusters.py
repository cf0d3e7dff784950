"""Global dedup of one language: exact-hash groups + LSH band collisions -> clusters -> removals.

Documents are named by a 64-bit key `(shard << 32) | row`. Every cluster keeps its smallest key
(the earliest document in input order), so the result does not depend on how shards were
scheduled. Memory: the keys, exact hashes and one band column of the language at a time
(16-24 bytes per document) plus the union-find over documents that collide at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def make_keys(shard: int, rows: np.ndarray) -> np.ndarray:
    return (np.uint64(shard) << np.uint64(32)) | rows.astype(np.uint64)


def key_shard(keys: np.ndarray) -> np.ndarray:
    return keys >> np.uint64(32)


def key_row(keys: np.ndarray) -> np.ndarray:
    return keys & np.uint64(0xFFFFFFFF)


def _group_edges(values: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(member, leader) pairs linking each document to the smallest key with the same value."""
    order = np.lexsort((keys, values))
    v, k = values[order], keys[order]
    if len(v) < 2:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    new_group = np.empty(len(v), dtype=bool)
    new_group[0] = True
    new_group[1:] = v[1:] != v[:-1]
    leader_pos = np.maximum.accumulate(np.where(new_group, np.arange(len(v)), 0))
    members = ~new_group
    return k[members], k[leader_pos[members]]


class UnionFind:
    """Union-find over the (few) documents that collide; the root of a set is its smallest key."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent.get(x, x)
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = (ra, rb) if ra < rb else (rb, ra)
            self.parent[hi] = lo
            self.parent.setdefault(lo, lo)


@dataclass
class DedupResult:
    exact: np.ndarray  # sorted keys removed as exact duplicates of a kept document's text
    near: np.ndarray  # sorted keys removed as near duplicates (same cluster, different text)
    clusters: int  # clusters with more than one document

    @property
    def removed(self) -> int:
        return len(self.exact) + len(self.near)


def find_duplicates(keys: np.ndarray, exact: np.ndarray | None, bands: np.ndarray | None) -> DedupResult:
    """Removal sets for one language. `exact`: [n] hashes or None; `bands`: [n, b] or None."""
    uf = UnionFind()
    exact_dupes = np.zeros(0, np.uint64)
    if exact is not None:
        members, leaders = _group_edges(exact, keys)
        exact_dupes = np.sort(members)
        for m, lead in zip(members.tolist(), leaders.tolist(), strict=True):
            uf.union(m, lead)
    if bands is not None:
        for b in range(bands.shape[1]):
            members, leaders = _group_edges(np.ascontiguousarray(bands[:, b]), keys)
            for m, lead in zip(members.tolist(), leaders.tolist(), strict=True):
                uf.union(m, lead)
    roots: set[int] = set()
    removed = []
    for node in uf.parent:
        root = uf.find(node)
        if root != node:
            removed.append(node)
            roots.add(root)
    removed_arr = np.array(sorted(removed), dtype=np.uint64)
    near = np.setdiff1d(removed_arr, exact_dupes, assume_unique=True) if len(removed_arr) else removed_arr
    # An exact duplicate is removed even when only exact dedup is enabled (no bands).
    return DedupResult(exact=exact_dupes, near=near.astype(np.uint64), clusters=len(roots))
