"""Find and stream the files of a clean corpus: `<corpus>/<lang>/<split>/*.jsonl.zst`.

Files are read in compressed chunks and split into lines by hand, so memory stays bounded and a
truncated file is detected (the decompressor never reaches the end of its frame): the partial
last line is dropped and the file is reported, not silently shortened. Bad lines are counted
by reason and skipped.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

from llm_train.errors import DataError

logger = logging.getLogger(__name__)

SUFFIXES = (".jsonl.zst", ".jsonl.gz", ".jsonl")
CHUNK = 1 << 20
MAX_REPORTED = 20


@dataclass(frozen=True, order=True)
class CorpusFile:
    lang: str
    split: str
    path: Path
    size: int

    @property
    def shard_id(self) -> str:
        """A name for this file's output shard, unique within one pack."""
        name = self.path.name
        for suffix in SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        return f"{self.lang}/{self.split}/{name}"


@dataclass
class ReadReport:
    """What reading skipped, by reason, plus the first few problems with file and line."""

    skipped: Counter = field(default_factory=Counter)
    problems: list[dict] = field(default_factory=list)

    def skip(self, reason: str, path: Path, line: int, detail: str = "") -> None:
        self.skipped[reason] += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append({"file": str(path), "line": line, "reason": reason, "detail": detail[:200]})
            logger.warning("%s:%d: skipped (%s) %s", path, line, reason, detail[:200])

    def to_json(self) -> dict:
        return {"skipped": dict(sorted(self.skipped.items())), "problems": self.problems}


def discover(corpus: str | Path, split: str, langs: list[str] | None = None) -> list[CorpusFile]:
    """All files of `split`, sorted by language then name (the order outputs are merged in)."""
    root = Path(corpus)
    if not root.is_dir():
        raise DataError(f"corpus directory not found: {root}")
    files = []
    for lang_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if langs and lang_dir.name not in langs:
            continue
        split_dir = lang_dir / split
        if not split_dir.is_dir():
            continue
        for path in sorted(split_dir.iterdir()):
            if path.is_file() and path.name.endswith(SUFFIXES):
                files.append(CorpusFile(lang_dir.name, split, path, path.stat().st_size))
    if not files:
        want = f" for languages {langs}" if langs else ""
        raise DataError(
            f"no corpus files in {root}/<lang>/{split}/ (expected *.jsonl.zst, *.jsonl.gz or *.jsonl){want}"
        )
    return files


def _framed_chunks(handle, new_decompressor) -> Iterator[bytes]:
    """Decompress frame after frame (files may hold several back to back); raise if the last is cut."""
    dobj = new_decompressor()
    at_boundary = True
    while raw := handle.read(CHUNK):
        while raw:
            at_boundary = False
            out = dobj.decompress(raw)
            if out:
                yield out
            if dobj.eof:
                at_boundary = True
                raw = dobj.unused_data
                dobj = new_decompressor()
            else:
                raw = b""
    if not at_boundary:
        raise EOFError("compressed stream ended before the end of its frame (truncated file)")


def _zst_chunks(handle) -> Iterator[bytes]:
    dctx = zstandard.ZstdDecompressor()
    return _framed_chunks(handle, dctx.decompressobj)


def _gz_chunks(handle) -> Iterator[bytes]:
    # wbits=47 accepts both gzip and zlib headers.
    return _framed_chunks(handle, lambda: zlib.decompressobj(wbits=47))


def _plain_chunks(handle) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        yield chunk


def iter_lines(path: Path, report: ReadReport) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) for every complete line; a truncated tail is reported."""
    name = path.name
    chunks = _zst_chunks if name.endswith(".zst") else _gz_chunks if name.endswith(".gz") else _plain_chunks
    lineno = 0
    rest = b""
    with open(path, "rb") as handle:
        try:
            for chunk in chunks(handle):
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    lineno += 1
                    yield lineno, line
        except (EOFError, zstandard.ZstdError, zlib.error) as exc:
            report.skip("truncated_file", path, lineno + 1, str(exc))
            return
    if rest.strip():
        # No newline after the last record: keep it if it parses, the caller decides.
        yield lineno + 1, rest


def iter_documents(path: Path, report: ReadReport) -> Iterator[dict]:
    """Parsed documents with a non-empty string `text`; every other line is counted and skipped."""
    for lineno, line in iter_lines(path, report):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError as exc:
            report.skip("invalid_json", path, lineno, str(exc))
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
            report.skip("missing_text", path, lineno, "no string field 'text'")
            continue
        if not doc["text"]:
            report.skip("empty_text", path, lineno)
            continue
        yield doc
