"""Dedup keys and clusters: exact and near copies collapse to the earliest document."""

from __future__ import annotations

import numpy as np

from data_prep.dedup.clusters import find_duplicates, make_keys
from data_prep.dedup.signatures import MinHashParams, SignatureBatch, exact_hash, shingle_hashes, words
from tests.prep_support import near_copy, sample_docs

PARAMS = MinHashParams()


def bands_of(texts: list[str], params: MinHashParams = PARAMS) -> np.ndarray:
    batch = SignatureBatch(params)
    for text in texts:
        batch.add(shingle_hashes(words(text), params.ngram))
    return batch.bands()


def test_exact_hash_ignores_case_punctuation_and_spacing():
    a = exact_hash(words("Hello,   World!\nThis is  it."))
    assert a == exact_hash(words("hello world this is it"))
    assert a != exact_hash(words("hello world this is not it"))


def test_near_copies_share_a_band_and_unrelated_texts_do_not():
    docs = [d["text"] for d in sample_docs(40)]
    bands = bands_of([*docs, near_copy(docs[0]), near_copy(docs[7])])
    assert bands.shape == (42, PARAMS.bands) and bands.dtype == np.uint64
    assert (bands[40] == bands[0]).any() and (bands[41] == bands[7]).any()
    shared = [(i, j) for i in range(40) for j in range(i + 1, 40) if (bands[i] == bands[j]).any()]
    assert len(shared) <= 2, shared  # the sample corpus itself may hold a real near-duplicate or two


def test_signatures_are_deterministic_across_batches():
    docs = [d["text"] for d in sample_docs(10)]
    together = bands_of(docs)
    one_by_one = np.concatenate([bands_of([t]) for t in docs])
    assert np.array_equal(together, one_by_one)


def test_short_texts_are_one_shingle():
    assert len(shingle_hashes(["only", "three", "words"], 5)) == 1
    assert len(shingle_hashes([], 5)) == 1
    assert len(shingle_hashes(list("abcdefg"), 5)) == 3


def test_clusters_keep_the_smallest_key_and_split_reasons():
    texts = [d["text"] for d in sample_docs(6)]
    # shard 0: t0 t1 t2 | shard 1: copy(t1) near(t0) t3 | shard 2: near(t0) copy(t1) t4
    shard_texts = [
        [texts[0], texts[1], texts[2]],
        [texts[1], near_copy(texts[0]), texts[3]],
        [near_copy(texts[0], every=90), texts[1], texts[4]],
    ]
    keys = np.concatenate([make_keys(s, np.arange(3, dtype=np.uint32)) for s in range(3)])
    flat = [t for shard in shard_texts for t in shard]
    exact = np.array([exact_hash(words(t)) for t in flat], dtype=np.uint64)
    # Shuffle the input order: the result must not depend on it.
    order = np.random.default_rng(0).permutation(len(keys))
    result = find_duplicates(keys[order], exact[order], bands_of(flat)[order])
    k = lambda s, r: (s << 32) | r  # noqa: E731
    assert result.exact.tolist() == [k(1, 0), k(2, 1)]
    assert result.near.tolist() == [k(1, 1), k(2, 0)]
    assert result.clusters == 2

    only_exact = find_duplicates(keys, exact, None)
    assert only_exact.exact.tolist() == [k(1, 0), k(2, 1)] and only_exact.near.tolist() == []
    assert find_duplicates(keys, None, None).removed == 0
