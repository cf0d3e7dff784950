"""The document map of a packed dataset (contract): document index -> clean document `id`, `url`,
`source`, and back. `llm-train pack` writes it (data_prep/pack/docmap.py); this is its only reader.

Beside each `<prefix>.bin/.idx` a directory `<prefix>.docmap/`, every array a `.npy` opened as a
memory map, so a lookup reads a few pages whatever the size of the dataset:

    meta.json         version, documents, idx_sha256 (the .idx it describes), lang, corpus
                      (absolute path of the clean corpus), corpus_stats_sha256, sources, hosts,
                      source_stats {source: {documents, crawled, first_date, last_date}}
    ids.offsets.npy   int64[N+1]  byte offsets into ids.bytes.npy (document i: [off[i], off[i+1]))
    ids.bytes.npy     uint8       the ids, UTF-8, concatenated in document order
    ids.hash.npy      uint64[N]   xxh64 of each id, sorted (the lookup key)
    ids.order.npy     int64[N]    the document index of each sorted hash
    urls.*            the same four for urls ("" without one) keyed by `normalize_url`; documents
                      without a url are left out of urls.hash/urls.order
    source.npy        uint32[N]   index into meta.sources
    host.npy          int32[N]    index into meta.hosts (`url_host`), -1 without url

Superseded maps (the dataset was packed again, e.g. after an erasure) move, with a copy of their
.idx, to `<packed>/.docmap-history/<prefix>-<idx sha256[:16]>/`, so lineage still reads the runs
that trained on the old pack.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import xxhash

from llm_train.errors import DataError
from llm_train.utils.urls import normalize_url

VERSION = 1
SUFFIX = ".docmap"
HISTORY_DIR = ".docmap-history"
META = "meta.json"


def docmap_dir(prefix: str | Path) -> Path:
    return Path(f"{prefix}{SUFFIX}")


def key_hash(text: str) -> int:
    return xxhash.xxh64_intdigest(text.encode("utf-8"))


def url_key(url: str) -> int:
    return key_hash(normalize_url(url))


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Strings:
    """Variable-length strings in two memory maps: offsets and the concatenated bytes."""

    offsets: np.ndarray
    data: np.ndarray

    def __getitem__(self, i: int) -> str:
        return bytes(self.data[int(self.offsets[i]) : int(self.offsets[i + 1])]).decode("utf-8")


class DocMap:
    def __init__(self, path: str | Path, idx_path: str | Path | None = None):
        self.path = Path(path)
        self.idx_path = Path(idx_path) if idx_path else None
        meta_file = self.path / META
        if not meta_file.is_file():
            raise DataError(
                f"{self.path}: no document map (pack it again with this version of `llm-train pack`)"
            )
        self.meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if self.meta.get("version") != VERSION:
            raise DataError(
                f"{self.path}: document map version {self.meta.get('version')}, expected {VERSION}"
            )

    @classmethod
    def for_prefix(cls, prefix: str | Path) -> DocMap:
        return cls(docmap_dir(prefix), f"{prefix}.idx")

    def _load(self, name: str) -> np.ndarray:
        return np.load(self.path / f"{name}.npy", mmap_mode="r")

    @property
    def documents(self) -> int:
        return int(self.meta["documents"])

    @property
    def lang(self) -> str | None:
        return self.meta.get("lang")

    @property
    def sources(self) -> list[str]:
        return self.meta["sources"]

    @property
    def hosts(self) -> list[str]:
        return self.meta["hosts"]

    @cached_property
    def ids(self) -> Strings:
        return Strings(self._load("ids.offsets"), self._load("ids.bytes"))

    @cached_property
    def urls(self) -> Strings:
        return Strings(self._load("urls.offsets"), self._load("urls.bytes"))

    @cached_property
    def source_codes(self) -> np.ndarray:
        return self._load("source")

    @cached_property
    def host_codes(self) -> np.ndarray:
        return self._load("host")

    def _find(self, kind: str, key: int) -> np.ndarray:
        hashes = self._load(f"{kind}.hash")
        lo, hi = (
            np.searchsorted(hashes, np.uint64(key), "left"),
            np.searchsorted(hashes, np.uint64(key), "right"),
        )
        return np.asarray(self._load(f"{kind}.order")[lo:hi], dtype=np.int64)

    def find_id(self, doc_id: str) -> list[int]:
        """Document indices whose id is `doc_id` (hash lookup, confirmed on the stored id)."""
        return [int(i) for i in self._find("ids", key_hash(doc_id)) if self.ids[int(i)] == doc_id]

    def find_url(self, url: str) -> list[int]:
        want = normalize_url(url)
        return [int(i) for i in self._find("urls", url_key(url)) if normalize_url(self.urls[int(i)]) == want]

    def docs_of_source(self, source: str) -> np.ndarray:
        if source not in self.sources:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(self.source_codes == self.sources.index(source))

    def source_at(self, i: int) -> str:
        return self.sources[int(self.source_codes[i])]

    def url_at(self, i: int) -> str | None:
        return self.urls[i] or None

    def check_idx(self) -> None:
        """The map describes the .idx beside it (not one packed before or after it)."""
        if self.idx_path is None:
            return
        if not self.idx_path.is_file():
            raise DataError(f"{self.idx_path}: missing (the packed data moved or was deleted)")
        if file_sha256(self.idx_path) != self.meta["idx_sha256"]:
            raise DataError(
                f"{self.path} describes another version of {self.idx_path.name} (packed again without "
                "its map?): run `llm-train pack` again for this output"
            )


def history(prefix: str | Path) -> list[DocMap]:
    """The superseded maps of a dataset, newest first, each with its own copy of the .idx."""
    prefix = Path(prefix)
    root = prefix.parent / HISTORY_DIR
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.name.startswith(f"{prefix.name}-") and (p / META).is_file()]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [DocMap(p, p / f"{prefix.name}.idx") for p in found]
