"""Write the document map beside each packed dataset (format: llm_train/lineage/docmap.py).

A worker writes, beside each shard's .bin/.idx, `<shard>.docs.jsonl`: one `[id, url, source,
warc_date]` per document in .bin order (renamed into place when complete, like the shard). The
merge streams those lists in the order the shards are concatenated and writes `<prefix>.docmap/`
under a temp name, renamed into place whole; only the hashes are sorted in memory (16 bytes per
document), ids and urls are streamed to disk.
"""

from __future__ import annotations

import json
import os
import shutil
from array import array
from pathlib import Path

import numpy as np

from data_prep.document import Document
from llm_train import storage
from llm_train.lineage.docmap import HISTORY_DIR, META, VERSION, docmap_dir, file_sha256, key_hash
from llm_train.utils.atomic import atomic_replace_dir, atomic_write_json, fsync_dir
from llm_train.utils.urls import normalize_url, url_host

DOCS_SUFFIX = ".docs.jsonl"
_COPY = 16 << 20


def docs_path(prefix: str | Path) -> Path:
    return Path(f"{prefix}{DOCS_SUFFIX}")


class DocListWriter:
    """The documents of one shard of one dataset, in the order they go into its .bin."""

    def __init__(self, prefix: str | Path):
        self.path = docs_path(prefix)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._out = open(self.tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed in finish/abort

    def add(self, doc: Document) -> None:
        date = doc.meta.get("warc_date") if isinstance(doc.meta, dict) else None
        self._out.write(json.dumps([doc.id, doc.url, doc.source, date], ensure_ascii=False) + "\n")

    def finish(self) -> None:
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self._out.close()
        self.tmp.unlink(missing_ok=True)


class _StringColumn:
    """Strings streamed to a raw file, with offsets and sorted-lookup hashes kept as arrays."""

    def __init__(self, raw: Path):
        self.raw_path = raw
        self.raw = open(raw, "wb")  # noqa: SIM115 - closed in save
        self.offsets = array("q", [0])
        self.hashes = array("Q")
        self.docs = array("q")

    def add(self, doc: int, text: str, key: str | None) -> None:
        data = text.encode("utf-8")
        self.raw.write(data)
        self.offsets.append(self.offsets[-1] + len(data))
        if key is not None:
            self.hashes.append(key_hash(key))
            self.docs.append(doc)

    def save(self, out: Path, name: str) -> None:
        self.raw.close()
        size = self.offsets[-1]
        np.save(out / f"{name}.offsets.npy", np.frombuffer(self.offsets, dtype=np.int64))
        if size:
            target = np.lib.format.open_memmap(
                out / f"{name}.bytes.npy", mode="w+", dtype=np.uint8, shape=(size,)
            )
            with open(self.raw_path, "rb") as src:
                pos = 0
                while chunk := src.read(_COPY):
                    target[pos : pos + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                    pos += len(chunk)
            target.flush()
            del target
        else:
            np.save(out / f"{name}.bytes.npy", np.zeros(0, dtype=np.uint8))
        self.raw_path.unlink()
        hashes = np.frombuffer(self.hashes, dtype=np.uint64)
        order = np.argsort(hashes, kind="stable")
        np.save(out / f"{name}.hash.npy", hashes[order])
        np.save(out / f"{name}.order.npy", np.frombuffer(self.docs, dtype=np.int64)[order])


def build_docmap(parts: list[Path], target: Path, meta: dict) -> Path:
    """Merge the doc lists of `parts` (shard prefixes, in .bin order) into `<target>.docmap/`."""
    final = docmap_dir(target)
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    storage.make_dirs(tmp)
    ids, urls = _StringColumn(tmp / "ids.raw"), _StringColumn(tmp / "urls.raw")
    sources: dict[str, int] = {}
    hosts: dict[str, int] = {}
    source_codes, host_codes = array("I"), array("i")
    source_stats: dict[str, dict] = {}
    n = 0
    for part in parts:
        with open(docs_path(part), encoding="utf-8") as handle:
            for line in handle:
                doc_id, url, source, date = json.loads(line)
                ids.add(n, doc_id, doc_id)
                urls.add(n, url or "", normalize_url(url) if url else None)
                source = source or "unknown"
                source_codes.append(sources.setdefault(source, len(sources)))
                host = url_host(url)
                host_codes.append(hosts.setdefault(host, len(hosts)) if host else -1)
                entry = source_stats.setdefault(
                    source, {"documents": 0, "crawled": 0, "first_date": None, "last_date": None}
                )
                entry["documents"] += 1
                if date:
                    entry["crawled"] += 1
                    entry["first_date"] = min(entry["first_date"] or date, date)
                    entry["last_date"] = max(entry["last_date"] or date, date)
                n += 1
    ids.save(tmp, "ids")
    urls.save(tmp, "urls")
    np.save(tmp / "source.npy", np.frombuffer(source_codes, dtype=np.uint32))
    np.save(tmp / "host.npy", np.frombuffer(host_codes, dtype=np.int32))
    atomic_write_json(
        tmp / META,
        {
            "version": VERSION,
            "documents": n,
            "idx_sha256": file_sha256(f"{target}.idx"),
            **meta,
            "sources": list(sources),
            "hosts": list(hosts),
            "source_stats": dict(sorted(source_stats.items())),
        },
    )
    atomic_replace_dir(tmp, final)
    return final


def redact_urls(path: Path, ids: set[str]) -> int:
    """Blank the url (and host) of documents `ids` in the map at `path`, in place and atomically.

    An archived map keeps an erased document's id, so the runs that read it can still be named;
    its url may identify a person and goes."""
    from llm_train.lineage.docmap import DocMap

    dm = DocMap(path)
    docs = sorted({i for doc_id in ids for i in dm.find_id(doc_id) if dm.urls[i]})
    if not docs:
        return 0
    tmp = path.with_name(f".{path.name}.redact.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    storage.make_dirs(tmp)
    for file in path.iterdir():
        if not file.name.startswith(("urls.", "host.")):
            storage.copy_file(file, tmp / file.name)
    blank = set(docs)
    urls = _StringColumn(tmp / "urls.raw")
    for i in range(dm.documents):
        url = "" if i in blank else dm.urls[i]
        urls.add(i, url, normalize_url(url) if url else None)
    urls.save(tmp, "urls")
    hosts = np.array(dm.host_codes)
    hosts[docs] = -1
    np.save(tmp / "host.npy", hosts)
    atomic_replace_dir(tmp, path)
    return len(docs)


def archive_docmap(target: Path) -> Path | None:
    """Keep the current map of `target` (with a copy of its .idx) before the dataset is packed again:
    runs that trained on it are still traced through `<packed>/.docmap-history/`."""
    current = docmap_dir(target)
    idx = Path(f"{target}.idx")
    if not (current / META).is_file() or not idx.is_file():
        return None
    sha = json.loads((current / META).read_text(encoding="utf-8"))["idx_sha256"]
    dest = target.parent / HISTORY_DIR / f"{target.name}-{sha[:16]}"
    if dest.exists():
        return dest
    if file_sha256(idx) != sha:
        return None  # the .idx was already replaced (a killed pack): its map describes nothing on disk
    storage.make_dirs(dest.parent)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    storage.make_dirs(tmp)
    for path in current.iterdir():
        storage.copy_file(path, tmp / path.name)
    storage.copy_file(idx, tmp / idx.name)
    os.replace(tmp, dest)
    fsync_dir(dest.parent)
    return dest
