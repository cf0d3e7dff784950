"""Pack one corpus file into one shard per output dataset (language, or language + source).

Runs in a worker process. The shard's .bin/.idx are renamed into place only when complete, and
the done marker (with the counts) is written last, so a killed pack leaves either a finished
shard with its marker or nothing that a rerun would trust.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_prep.pack.docmap import DocListWriter
from data_prep.pack.indexed import IndexedWriter
from data_prep.readers import ReadResult
from data_prep.readers.corpus import CorpusFile, read_corpus_file

SOURCE_SAFE = re.compile(r"[^A-Za-z0-9.-]+")


@dataclass(frozen=True)
class ShardTask:
    file: CorpusFile
    tokenizer_file: str
    shard_dir: str
    group_by: str  # "lang" or "source"
    dtype: str
    eod_id: int
    batch_bytes: int
    fast: bool


def dataset_name(lang: str, source: str | None, group_by: str) -> str:
    if group_by == "lang":
        return lang
    return f"{lang}_{SOURCE_SAFE.sub('-', source or 'unknown').strip('-') or 'unknown'}"


def marker_path(shard_dir: str | Path, file: CorpusFile) -> Path:
    return Path(shard_dir) / f"{file.shard_id}.done.json"


def init_worker(threads: int) -> None:
    """Runs first in each worker process, before the tokenizer's thread pool exists."""
    os.environ["RAYON_NUM_THREADS"] = str(threads)
    # One thread per worker: HF's own parallelism would only compete with the other workers.
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if threads > 1 else "false"


_ENCODERS: dict[tuple, object] = {}


def _encoder(tokenizer_file: str, fast: bool):
    """One encoder per worker process, so its piece cache stays warm from file to file."""
    from tokenizers import Tokenizer

    from data_prep.pack.encoder import make_encoder

    stat = os.stat(tokenizer_file)
    key = (tokenizer_file, stat.st_mtime_ns, stat.st_size, fast)  # a rewritten file is a new tokenizer
    if key not in _ENCODERS:
        _ENCODERS.clear()
        _ENCODERS[key] = make_encoder(Tokenizer.from_file(tokenizer_file), fast=fast)
    return _ENCODERS[key]


class _Batch:
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.names: list[str] = []
        self.nbytes = 0


def pack_file(task: ShardTask) -> dict:
    """Tokenize every document of one file, append EOD, write shards; returns the marker dict."""
    from llm_train.utils.atomic import atomic_write_json

    started = time.monotonic()
    cpu_started = time.process_time()
    encoder = _encoder(task.tokenizer_file, task.fast)
    dtype = np.dtype(task.dtype)
    report = ReadResult()
    writers: dict[str, IndexedWriter] = {}
    # Per dataset, the documents in .bin order: the lineage map (llm_train/lineage/docmap.py).
    doclists: dict[str, DocListWriter] = {}
    stats: dict[str, dict] = {}
    batch = _Batch()
    base = Path(task.shard_dir) / task.file.shard_id

    def flush() -> None:
        if not batch.texts:
            return
        for name, texts in _group(batch.names, batch.texts):
            flat, lengths = encoder.encode_flat(texts, task.eod_id, dtype)
            if name not in writers:
                writers[name] = IndexedWriter(f"{base}.{name}", dtype)
            writers[name].add(flat, lengths)
        batch.texts, batch.names, batch.nbytes = [], [], 0

    try:
        for doc in read_corpus_file(task.file.path, report):
            name = dataset_name(task.file.lang, doc.source, task.group_by)
            text = doc.text
            if name not in doclists:
                doclists[name] = DocListWriter(f"{base}.{name}")
            doclists[name].add(doc)
            entry = stats.setdefault(name, {"lang": task.file.lang, "source": doc.source, "text_bytes": 0})
            if task.group_by == "lang":
                entry["source"] = None
            size = len(text.encode("utf-8"))
            entry["text_bytes"] += size
            batch.texts.append(text)
            batch.names.append(name)
            batch.nbytes += size
            if batch.nbytes >= task.batch_bytes:
                flush()
        flush()
        outputs = {}
        for name, writer in writers.items():
            doclists[name].finish()
            writer.finish()
            outputs[name] = {
                **stats[name],
                "shard": f"{task.file.shard_id}.{name}",
                "documents": writer.documents,
                "tokens": writer.tokens,
            }
    except BaseException:
        for writer in [*writers.values(), *doclists.values()]:
            writer.abort()
        raise
    marker = {
        "file": str(task.file.path),
        "size": task.file.size,
        "lang": task.file.lang,
        "encoder": encoder.name,
        "outputs": outputs,
        "read": report.to_json(),
        "seconds": round(time.monotonic() - started, 3),
        "cpu_seconds": round(time.process_time() - cpu_started, 3),
    }
    atomic_write_json(marker_path(task.shard_dir, task.file), marker)
    return marker


def _group(names: list[str], texts: list[str]):
    """Consecutive runs are the common case (one language per file); keep document order per name."""
    grouped: dict[str, list[str]] = {}
    for name, text in zip(names, texts, strict=True):
        grouped.setdefault(name, []).append(text)
    return grouped.items()
