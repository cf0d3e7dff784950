"""Write and merge Megatron indexed datasets (`.bin`/`.idx`) with numpy, streaming.

The bytes are identical to megatron-core's `IndexedDatasetBuilder` when every document is one
sequence (`add_document(ids, [len(ids)])`), which is what GPT pretraining data is; a test writes
the same documents both ways and compares the files. Writing ourselves avoids a torch tensor per
document and keeps only the int32 lengths in memory, never the tokens.

.idx layout (little endian): b"MMIDIDX\\x00\\x00", u64 version=1, u8 dtype code, u64 sequence
count, u64 document count (= sequences + 1), int32 lengths[seq], int64 byte pointers[seq],
int64 document indices[doc] (= 0..seq).
"""

from __future__ import annotations

import os
import shutil
import struct
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llm_train.errors import DataError
from llm_train.utils.atomic import fsync_dir

INDEX_HEADER = b"MMIDIDX\x00\x00"
HEADER_SIZE = 34
# megatron.core.datasets.indexed_dataset.DType codes
DTYPE_CODES = {
    np.dtype(np.uint8): 1,
    np.dtype(np.int8): 2,
    np.dtype(np.int16): 3,
    np.dtype(np.int32): 4,
    np.dtype(np.int64): 5,
    np.dtype(np.float64): 6,
    np.dtype(np.float32): 7,
    np.dtype(np.uint16): 8,
}
CODE_DTYPES = {code: dtype for dtype, code in DTYPE_CODES.items()}
COPY_BUFFER = 16 << 20


def bin_path(prefix: str | Path) -> Path:
    return Path(f"{prefix}.bin")


def idx_path(prefix: str | Path) -> Path:
    return Path(f"{prefix}.idx")


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def _fsync_close(handle) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


def _write_index(path: Path, dtype: np.dtype, lengths_chunks, pointer_chunks, n_seq: int) -> None:
    """Write an .idx from iterables of length and pointer chunks (so merges stream)."""
    with open(path, "wb") as out:
        out.write(INDEX_HEADER)
        out.write(struct.pack("<Q", 1))
        out.write(struct.pack("<B", DTYPE_CODES[dtype]))
        out.write(struct.pack("<Q", n_seq))
        out.write(struct.pack("<Q", n_seq + 1))
        for chunk in lengths_chunks:
            out.write(np.ascontiguousarray(chunk, dtype=np.int32).tobytes())
        for chunk in pointer_chunks:
            out.write(np.ascontiguousarray(chunk, dtype=np.int64).tobytes())
        step = 1 << 22
        for start in range(0, n_seq + 1, step):
            out.write(np.arange(start, min(start + step, n_seq + 1), dtype=np.int64).tobytes())
        out.flush()
        os.fsync(out.fileno())


def _pointers(lengths: np.ndarray, itemsize: int, start: int = 0) -> np.ndarray:
    """Byte offset of each sequence: exclusive prefix sum of lengths, times the token size."""
    ends = np.cumsum(lengths, dtype=np.int64) * itemsize
    return np.concatenate(([0], ends[:-1])).astype(np.int64) + start if len(lengths) else ends


class IndexedWriter:
    """Append documents (already ending in EOD) to `<prefix>.bin`; `finish()` writes the .idx.

    Both files are written under temporary names and renamed on `finish()`, so a killed writer
    never leaves a .bin/.idx pair that looks complete.
    """

    def __init__(self, prefix: str | Path, dtype: np.dtype):
        self.prefix = Path(prefix)
        self.dtype = np.dtype(dtype)
        if self.dtype not in DTYPE_CODES:
            raise DataError(f"unsupported token dtype {self.dtype}")
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        # Stays open across add() calls; finish() or abort() closes it.
        self._bin = open(_tmp(bin_path(self.prefix)), "wb")  # noqa: SIM115
        self.lengths = array("i")
        self.tokens = 0

    def add(self, tokens: np.ndarray, lengths) -> None:
        """`tokens` is the concatenation of documents whose sizes are `lengths`."""
        self._bin.write(np.ascontiguousarray(tokens, dtype=self.dtype).tobytes())
        self.lengths.extend(lengths)
        self.tokens += len(tokens)

    @property
    def documents(self) -> int:
        return len(self.lengths)

    def finish(self) -> None:
        _fsync_close(self._bin)
        lengths = np.frombuffer(self.lengths, dtype=np.int32)
        pointers = _pointers(lengths, self.dtype.itemsize)
        _write_index(_tmp(idx_path(self.prefix)), self.dtype, [lengths], [pointers], len(lengths))
        os.replace(_tmp(bin_path(self.prefix)), bin_path(self.prefix))
        os.replace(_tmp(idx_path(self.prefix)), idx_path(self.prefix))
        fsync_dir(self.prefix.parent)

    def abort(self) -> None:
        self._bin.close()
        for path in (_tmp(bin_path(self.prefix)), _tmp(idx_path(self.prefix))):
            path.unlink(missing_ok=True)


@dataclass
class IndexHeader:
    dtype: np.dtype
    sequences: int
    documents: int


def read_header(prefix: str | Path) -> IndexHeader:
    path = idx_path(prefix)
    with open(path, "rb") as handle:
        head = handle.read(HEADER_SIZE)
    if len(head) < HEADER_SIZE or head[:9] != INDEX_HEADER:
        raise DataError(f"{path}: not a Megatron indexed dataset index (bad header)")
    version, code, n_seq, n_doc = struct.unpack("<QBQQ", head[9:])
    if version != 1 or code not in CODE_DTYPES:
        raise DataError(f"{path}: unsupported index version {version} or dtype code {code}")
    return IndexHeader(CODE_DTYPES[code], n_seq, n_doc)


def _read_lengths(prefix: Path, n_seq: int) -> np.ndarray:
    return np.fromfile(idx_path(prefix), dtype=np.int32, count=n_seq, offset=HEADER_SIZE)


def merge(parts: list[Path], out_prefix: str | Path) -> IndexHeader:
    """Concatenate one-sequence-per-document datasets in order into `out_prefix`.

    Equivalent to megatron-core's `IndexedDatasetBuilder.add_index` for each part, but streams:
    only one part's lengths are in memory at a time.
    """
    out_prefix = Path(out_prefix)
    headers = [read_header(p) for p in parts]
    dtypes = {h.dtype for h in headers}
    if len(dtypes) != 1:
        raise DataError(f"cannot merge datasets with different token dtypes: {sorted(map(str, dtypes))}")
    dtype = dtypes.pop()
    for part, header in zip(parts, headers, strict=True):
        if header.documents != header.sequences + 1:
            raise DataError(f"{idx_path(part)}: expected one sequence per document")
    n_seq = sum(h.sequences for h in headers)

    tmp_bin = _tmp(bin_path(out_prefix))
    with open(tmp_bin, "wb") as out:
        for part in parts:
            with open(bin_path(part), "rb") as src:
                shutil.copyfileobj(src, out, COPY_BUFFER)
        out.flush()
        os.fsync(out.fileno())

    def lengths():
        for part, header in zip(parts, headers, strict=True):
            yield _read_lengths(part, header.sequences)

    def pointers():
        offset = 0
        for part, header in zip(parts, headers, strict=True):
            part_lengths = _read_lengths(part, header.sequences)
            yield _pointers(part_lengths, dtype.itemsize, offset)
            offset += int(part_lengths.sum(dtype=np.int64)) * dtype.itemsize

    _write_index(_tmp(idx_path(out_prefix)), dtype, lengths(), pointers(), n_seq)
    os.replace(tmp_bin, bin_path(out_prefix))
    os.replace(_tmp(idx_path(out_prefix)), idx_path(out_prefix))
    fsync_dir(out_prefix.parent)
    return IndexHeader(dtype, n_seq, n_seq + 1)
