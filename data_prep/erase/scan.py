"""Find the documents an erasure request selects in every copy a corpus keeps, and rewrite the
files that hold them.

Copies searched: the clean corpus (`<lang>/<split>/*.jsonl.zst`), the audit trail of removed
documents (`dropped/...`, `output.write_dropped`) and kept intermediates (`.prep/shards/*/docs`).
A file is rewritten only when it holds a selected document: its lines are copied byte for byte
except the selected ones, into a temp file renamed over the original, so a kill leaves either the
old file (a rerun rewrites it) or the new one (a rerun finds nothing left in it). A line that is not
JSON is kept as it is; a file that cannot be read to the end is reported, never rewritten.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import zstandard
from tqdm import tqdm

from data_prep.erase.request import ErasureRequest
from data_prep.pipeline.dropped import DROPPED_DIR
from data_prep.readers.corpus import SPLITS
from data_prep.writers.jsonl_zst import ZSTD_LEVEL
from llm_train.utils.atomic import fsync_dir


@dataclass
class FileHit:
    path: str  # relative to the corpus
    kind: str  # clean | dropped | intermediate
    lang: str | None
    split: str | None
    size_before: int
    docs: int = 0
    bytes: int = 0
    by_source: dict[str, list[int]] = field(default_factory=dict)  # source -> [docs, bytes]


@dataclass
class ScanResult:
    files: list[FileHit]
    ids: set[str]
    searched_files: int
    searched_docs: int
    unreadable: list[str]  # files that could not be read to the end


def corpus_files(corpus: Path) -> list[tuple[Path, str, str | None, str | None]]:
    """(path, kind, lang, split) of every document file the corpus keeps."""
    found = []
    for lang_dir in sorted(p for p in corpus.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if lang_dir.name == DROPPED_DIR:
            found += [(p, "dropped", None, None) for p in sorted(lang_dir.rglob("*.jsonl.zst"))]
            continue
        for split in SPLITS:
            found += [
                (p, "clean", lang_dir.name, split) for p in sorted((lang_dir / split).glob("*.jsonl.zst"))
            ]
    found += [
        (p, "intermediate", None, None)
        for p in sorted((corpus / ".prep" / "shards").glob("*/docs.jsonl.zst"))
    ]
    return found


def iter_lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as raw:
        reader = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw))
        yield from reader


def _needles(ids: set[str]) -> list[bytes]:
    # An id appears in its line as its JSON string (ensure_ascii=False, as the writer writes it).
    return [json.dumps(i, ensure_ascii=False)[1:-1].encode("utf-8") for i in ids]


def scan(corpus: Path, request: ErasureRequest, progress: bool = True) -> ScanResult:
    files = corpus_files(corpus)
    hits, ids, unreadable = [], set(), []
    docs = 0
    # An ids-only request skips lines that cannot hold one of the ids without parsing them.
    needles = _needles(set(request.ids)) if request.selectors == ["ids"] else None
    bar = tqdm(
        total=sum(p.stat().st_size for p, *_ in files),
        unit="B",
        unit_scale=True,
        desc="erase: scan",
        disable=not progress or None,
    )
    for path, kind, lang, split in files:
        hit = FileHit(str(path.relative_to(corpus)), kind, lang, split, path.stat().st_size)
        try:
            for line in iter_lines(path):
                docs += 1
                if needles is not None and not any(n in line for n in needles):
                    continue
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(doc, dict) or not request.matches(doc):
                    continue
                nbytes = len(str(doc.get("text", "")).encode("utf-8"))
                ids.add(str(doc.get("id")))
                hit.docs += 1
                hit.bytes += nbytes
                entry = hit.by_source.setdefault(str(doc.get("source") or "unknown"), [0, 0])
                entry[0] += 1
                entry[1] += nbytes
                hit.lang = hit.lang or doc.get("lang")
        except (OSError, zstandard.ZstdError) as exc:
            unreadable.append(f"{hit.path}: {type(exc).__name__}: {exc}")
        if hit.docs:
            hits.append(hit)
        bar.update(hit.size_before)
    bar.close()
    return ScanResult(hits, ids, len(files), docs, unreadable)


def rewrite(path: Path, ids: set[str]) -> tuple[int, int]:
    """Rewrite `path` without the documents whose id is in `ids`; (documents removed, new size).
    A file without any of them is left untouched."""
    needles = _needles(ids)
    tmp = path.with_name(f".{path.name}.erase.tmp")
    removed = 0
    cctx = zstandard.ZstdCompressor(
        level=ZSTD_LEVEL, write_checksum=True, write_content_size=False, threads=0
    )
    try:
        with open(tmp, "wb") as raw:
            out = cctx.stream_writer(raw, closefd=False)  # the frame JsonlZstWriter writes
            for line in iter_lines(path):
                if any(n in line for n in needles):
                    try:
                        doc = json.loads(line)
                    except ValueError:
                        doc = None
                    if isinstance(doc, dict) and str(doc.get("id")) in ids:
                        removed += 1
                        continue
                out.write(line)
            out.flush(zstandard.FLUSH_FRAME)
            out.close()
            raw.flush()
            os.fsync(raw.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if not removed:
        tmp.unlink()
        return 0, path.stat().st_size
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return removed, path.stat().st_size
