"""Deterministic, atomic `.jsonl.zst` writing.

Same documents in, same bytes out: fixed zstd level, single-threaded compression, no content
size or timestamps in the frame, stable JSON field order. The file appears under its final name
only when `commit()` renames the finished temp file; `abort()` (or a crash) leaves no final file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import zstandard

from data_prep.document import Document, utf8_size
from llm_train.utils.atomic import fsync_dir

ZSTD_LEVEL = 3


def doc_line(doc: Document) -> bytes:
    return (json.dumps(doc.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


class JsonlZstWriter:
    """Append documents to `<path>.tmp`; `commit()` renames it to `path`."""

    def __init__(self, path: str | os.PathLike, level: int = ZSTD_LEVEL):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        self._raw = open(self.tmp, "wb")  # noqa: SIM115 - closed in commit/abort
        cctx = zstandard.ZstdCompressor(level=level, write_checksum=True, write_content_size=False, threads=0)
        self._zst = cctx.stream_writer(self._raw, closefd=False)
        self.docs = 0
        self.bytes = 0

    def write(self, doc: Document) -> None:
        self._zst.write(doc_line(doc))
        self.docs += 1
        self.bytes += utf8_size(doc.text)

    def commit(self) -> Path:
        self._zst.flush(zstandard.FLUSH_FRAME)
        self._zst.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)
        return self.path

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._zst.close()
        with contextlib.suppress(Exception):
            self._raw.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


def read_jsonl_zst(path: str | os.PathLike):
    """Documents of a `.jsonl.zst` file written by `JsonlZstWriter` (trusted input: no checks)."""
    with open(path, "rb") as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw)
        for line in io.TextIOWrapper(reader, encoding="utf-8", newline="\n"):
            yield Document.from_json(json.loads(line))
