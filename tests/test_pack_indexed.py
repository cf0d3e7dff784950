"""Our numpy .bin/.idx writer and merger against megatron-core's own builder and reader."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from megatron.core.datasets.indexed_dataset import IndexedDataset, IndexedDatasetBuilder

from data_prep.pack.indexed import IndexedWriter, merge, read_header
from llm_train.errors import DataError


def random_docs(seed: int, count: int, vocab: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    docs = [rng.integers(0, vocab, size=rng.integers(1, 300)) for _ in range(count)]
    for doc in docs:
        doc[-1] = 2  # EOD
    return docs


def write_ours(prefix, docs, dtype, batch=7):
    writer = IndexedWriter(prefix, dtype)
    for i in range(0, len(docs), batch):
        part = docs[i : i + batch]
        writer.add(np.concatenate(part), [len(d) for d in part])
    writer.finish()


def write_megatron(prefix, docs, dtype):
    builder = IndexedDatasetBuilder(f"{prefix}.bin", dtype=dtype)
    for doc in docs:
        builder.add_document(torch.from_numpy(doc.astype(np.int64)), [len(doc)])
    builder.finalize(f"{prefix}.idx")


@pytest.mark.parametrize(("dtype", "vocab"), [(np.uint16, 65000), (np.int32, 200_000)])
def test_writer_is_byte_identical_to_megatron_builder(tmp_path, dtype, vocab):
    docs = random_docs(0, 123, vocab)
    write_ours(tmp_path / "ours", docs, dtype)
    write_megatron(tmp_path / "theirs", docs, dtype)
    for ext in (".bin", ".idx"):
        assert (tmp_path / f"ours{ext}").read_bytes() == (tmp_path / f"theirs{ext}").read_bytes()
    ds = IndexedDataset(str(tmp_path / "ours"))
    assert len(ds) == len(docs)
    for i in (0, 57, 122):
        np.testing.assert_array_equal(ds[i], docs[i])


def test_merge_is_byte_identical_to_megatron_add_index(tmp_path):
    parts = [random_docs(seed, count, 30000) for seed, count in ((1, 40), (2, 1), (3, 77))]
    for i, docs in enumerate(parts):
        write_ours(tmp_path / f"p{i}", docs, np.uint16)
    header = merge([tmp_path / f"p{i}" for i in range(3)], tmp_path / "merged")
    assert header.sequences == 118

    builder = IndexedDatasetBuilder(str(tmp_path / "ref.bin"), dtype=np.uint16)
    for i in range(3):
        builder.add_index(str(tmp_path / f"p{i}"))
    builder.finalize(str(tmp_path / "ref.idx"))
    for ext in (".bin", ".idx"):
        assert (tmp_path / f"merged{ext}").read_bytes() == (tmp_path / f"ref{ext}").read_bytes()
    all_docs = [d for docs in parts for d in docs]
    ds = IndexedDataset(str(tmp_path / "merged"))
    np.testing.assert_array_equal(ds[41], all_docs[41])


def test_merge_refuses_mixed_dtypes(tmp_path):
    write_ours(tmp_path / "a", random_docs(0, 3, 100), np.uint16)
    write_ours(tmp_path / "b", random_docs(0, 3, 100), np.int32)
    with pytest.raises(DataError, match="different token dtypes"):
        merge([tmp_path / "a", tmp_path / "b"], tmp_path / "m")
    assert read_header(tmp_path / "b").dtype == np.int32


def test_unfinished_writer_leaves_no_dataset(tmp_path):
    writer = IndexedWriter(tmp_path / "x", np.uint16)
    writer.add(np.array([5, 2]), [2])
    assert not (tmp_path / "x.bin").exists() and not (tmp_path / "x.idx").exists()
    writer.abort()
    assert list(tmp_path.iterdir()) == []
