"""A run's sample order, read from megatron-core's cached indices in RUN_DIR/data_index.

The trainer reads global sample `x` of the blended train dataset as `blend[x % size]` (see
llm_train/data/loader.py). megatron-core caches, per blend and per dataset, the arrays that define
that order (megatron/core/datasets/{blended,gpt}_dataset.py):

    <hash>-BlendedDataset-train-dataset_index.npy         int16[size]  which dataset
    <hash>-BlendedDataset-train-dataset_sample_index.npy  int64[size]  which sample of it
    <hash>-BlendedDataset-train-description.txt           the JSON its hash is the md5 of
    <hash>-GPTDataset-train-shuffle_index.npy             sample j -> unshuffled sample idx
    <hash>-GPTDataset-train-sample_index.npy              int32[n+1, 2]: sample idx starts at
                                                          (document position, token offset)
    <hash>-GPTDataset-train-document_index.npy            int32: document position -> document

All are opened as memory maps. A dataset's document index is the `.idx` sequence index, which the
pack's document map turns into the clean document's id. The map must describe the same pack the run
trained on: each candidate (the current map, then the archived ones) is checked against the run's
own sample boundaries, which fix the document lengths, before it is used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from llm_train.errors import DataError
from llm_train.lineage.docmap import HISTORY_DIR, DocMap, history

log = logging.getLogger(__name__)

IDX_HEADER = 34  # b"MMIDIDX\0\0", u64 version, u8 dtype, u64 sequences, u64 documents


class LineageError(DataError):
    """A run whose data lineage cannot be traced (index missing, data moved or changed)."""


def read_lengths(idx_path: str | Path) -> np.ndarray:
    """The sequence lengths of a Megatron .idx (memory-mapped)."""
    with open(idx_path, "rb") as handle:
        head = handle.read(IDX_HEADER)
    if len(head) < IDX_HEADER or head[:9] != b"MMIDIDX\x00\x00":
        raise LineageError(f"{idx_path}: not a Megatron indexed dataset index")
    (n_seq,) = struct.unpack("<Q", head[18:26])
    return np.memmap(idx_path, dtype=np.int32, mode="r", offset=IDX_HEADER, shape=(n_seq,))


def _describe_hash(description: dict) -> str:
    # megatron-core names cache files by the md5 of json.dumps(unique_identifiers, indent=4).
    return hashlib.md5(json.dumps(description, indent=4).encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass
class DatasetOrder:
    """One GPTDataset of the blend: its cached indices and the document map that matches them."""

    position: int
    prefix: str
    description: dict
    cache: Path
    docmap: DocMap | None = None
    lengths: np.ndarray | None = None
    problem: str | None = None
    note: str | None = None

    @property
    def name(self) -> str:
        return Path(self.prefix).name.removesuffix("_text_document")

    def _npy(self, kind: str) -> np.ndarray:
        path = self.cache / f"{_describe_hash(self.description)}-GPTDataset-train-{kind}.npy"
        if not path.is_file():
            raise LineageError(f"{path}: missing from the run's data index (was data_index/ cleaned?)")
        return np.load(path, mmap_mode="r")

    @cached_property
    def document_index(self) -> np.ndarray:
        return self._npy("document_index")

    @cached_property
    def sample_index(self) -> np.ndarray:
        return self._npy("sample_index")

    @cached_property
    def shuffle_index(self) -> np.ndarray:
        return self._npy("shuffle_index")

    @property
    def seq_length(self) -> int:
        return int(self.description["sequence_length"])

    @cached_property
    def stream(self) -> np.ndarray:
        """Token position of each document position in the dataset's (epoch-repeated) document order."""
        lengths = np.asarray(self.lengths)[np.asarray(self.document_index)]
        return np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))

    def _starts(self, rows: np.ndarray) -> np.ndarray:
        si = self.sample_index
        return self.stream[si[rows, 0].astype(np.int64)] + si[rows, 1].astype(np.int64)

    def matches(self, lengths: np.ndarray) -> bool:
        """Are these the document lengths the run's index was built from? The train split must be the
        documents megatron-core takes from a dataset of this size, and every sample must start
        `seq_length` tokens after the one before; a pack with any document added, removed or
        changed fails one of the two."""
        n_docs = len(lengths)
        first, last = self.description["split_matrix"][0]
        begin, end = int(round(first * float(n_docs))), int(round(last * float(n_docs)))
        doc_index = np.asarray(self.document_index)
        if end <= begin or not len(doc_index) or len(doc_index) % (end - begin):
            return False
        if int(doc_index.min()) != begin or int(doc_index.max()) != end - 1:
            return False
        self.lengths = lengths
        self.__dict__.pop("stream", None)
        starts = self._starts(np.arange(len(self.sample_index), dtype=np.int64))
        if np.all(np.diff(starts) == self.seq_length):
            return True
        self.lengths = None
        self.__dict__.pop("stream", None)
        return False

    def attach_docmap(self) -> None:
        """Find the document map of the pack this run trained on (current or archived)."""
        candidates: list[DocMap] = []
        try:
            candidates.append(DocMap.for_prefix(self.prefix))
        except DataError as exc:
            self.problem = str(exc)
        candidates += history(self.prefix)
        for n, cand in enumerate(candidates):
            if cand.idx_path is None or not cand.idx_path.is_file():
                continue
            if self.matches(read_lengths(cand.idx_path)):
                self.docmap = cand
                self.problem = None
                if n or cand.path.parent.name == HISTORY_DIR:
                    self.note = f"packed again since this run; traced with its archived map {cand.path.name}"
                return
        if not Path(f"{self.prefix}.idx").is_file() and not candidates:
            self.problem = f"{self.prefix}.idx: not found (the packed data moved or was deleted)"
        elif self.problem is None:
            self.problem = (
                f"{self.prefix}: the packed data changed since this run and no archived document map "
                "matches the run's index"
            )

    def pairs(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For unshuffled samples `rows`: (which of `rows`, document position, tokens of that
        document among the sample's `seq_length` input tokens), one entry per document part."""
        rows = np.asarray(rows, dtype=np.int64)
        si = self.sample_index
        first, last = si[rows, 0].astype(np.int64), si[rows + 1, 0].astype(np.int64)
        counts = last - first + 1
        owner = np.repeat(np.arange(len(rows)), counts)
        offset = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        pos = first[owner] + offset
        start, end = self._starts(rows), self._starts(rows + 1)
        stream = self.stream
        tokens = np.minimum(end[owner], stream[pos + 1]) - np.maximum(start[owner], stream[pos])
        keep = tokens > 0
        return owner[keep], pos[keep], tokens[keep]

    def rows_with(self, positions: np.ndarray) -> np.ndarray:
        """Unshuffled samples that contain any of the document positions (each at most once)."""
        col = np.ascontiguousarray(self.sample_index[:, 0])
        n = len(col) - 1
        found = []
        for p in positions:
            a, b = np.searchsorted(col, p, "left"), np.searchsorted(col, p, "right")
            found.append(np.arange(max(a - 1, 0), min(b, n)))
        return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)

    @cached_property
    def unshuffle(self) -> np.ndarray:
        """Inverse of the shuffle index: unshuffled sample -> the sample number the blend asks for."""
        shuffle = np.asarray(self.shuffle_index)
        inverse = np.full(len(self.sample_index) - 1, -1, dtype=np.int64)
        inverse[shuffle] = np.arange(len(shuffle))
        return inverse


@dataclass
class RunOrder:
    """The blended train order of one run: sample x of the run is blend[x % size]."""

    cache: Path
    size: int
    datasets: list[DatasetOrder]
    dataset_index: np.ndarray
    dataset_sample_index: np.ndarray
    description_file: Path
    _by_dataset: dict[int, np.ndarray] = field(default_factory=dict)

    def blend_positions(self, k: int) -> np.ndarray:
        """j -> blend position for dataset k (-1 where the blend never asks for sample j)."""
        if k not in self._by_dataset:
            where = np.flatnonzero(np.asarray(self.dataset_index) == k)
            js = np.asarray(self.dataset_sample_index)[where]
            inverse = np.full(int(js.max()) + 1 if len(js) else 0, -1, dtype=np.int64)
            inverse[js] = where
            self._by_dataset[k] = inverse
        return self._by_dataset[k]

    def dataset(self, prefix: str) -> DatasetOrder | None:
        return next((d for d in self.datasets if d.prefix == prefix), None)


def _train_descriptions(cache: Path) -> list[tuple[Path, dict]]:
    found = []
    for path in sorted(cache.glob("*-BlendedDataset-train-description.txt")):
        try:
            found.append((path, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            log.warning("lineage: unreadable index description %s", path)
    return found


def load_run_order(cache: Path, data_samples: int | None = None) -> RunOrder:
    """The run's train blend in `cache` (RUN_DIR/data_index or data.index_cache)."""
    if not cache.is_dir():
        raise LineageError(
            f"{cache}: the run has no data index (megatron-core's cached sample order); lineage needs it "
            "as training left it. It is rebuilt identically by starting the run again with the same config "
            "and data (`llm-train train RUN_DIR train.steps=0` is not enough: the index is built at setup)"
        )
    found = [(p, d) for p, d in _train_descriptions(cache) if d.get("size")]
    if not found:
        raise LineageError(f"{cache}: no BlendedDataset train index (missing or deleted data index)")
    if data_samples:
        exact = [(p, d) for p, d in found if d["size"] == data_samples]
        if exact:
            found = exact
        else:
            log.warning("lineage: no train index of %d samples in %s; using the largest", data_samples, cache)
    path, desc = max(found, key=lambda pd: pd[1]["size"])
    base = path.name.removesuffix("-description.txt")
    arrays = {}
    for kind in ("dataset_index", "dataset_sample_index"):
        npy = cache / f"{base}-{kind}.npy"
        if not npy.is_file():
            raise LineageError(f"{npy}: missing from the run's data index")
        arrays[kind] = np.load(npy, mmap_mode="r")
    datasets = [DatasetOrder(k, d["dataset_path"], d, cache) for k, d in enumerate(desc["datasets"])]
    return RunOrder(
        cache, int(desc["size"]), datasets, arrays["dataset_index"], arrays["dataset_sample_index"], path
    )
