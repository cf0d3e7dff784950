"""JSON Lines shards: plain, gzip or zstd compressed; one document per line.

Lines are read with a size cap so a gigantic (or newline-less binary) line never sits in memory
whole: the overlong part is skipped in chunks and the record counted as `too_large`.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from typing import IO

import zstandard

from data_prep.document import Document
from data_prep.readers.base import Reader, ReadResult, check_text, file_stem, make_document

_CHUNK = 1 << 20


def open_binary(path: str) -> IO[bytes]:
    """A buffered binary stream of the decompressed content of `path`."""
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.endswith(".zst"):
        return io.BufferedReader(_ZstdRaw(path), buffer_size=_CHUNK)
    return open(path, "rb")  # noqa: SIM115


class _ZstdRaw(io.RawIOBase):
    """Decompresses (possibly multi-frame) zstd and, unlike zstandard's stream_reader, raises
    on a truncated last frame instead of returning a silently shortened stream."""

    def __init__(self, path: str):
        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._dctx = zstandard.ZstdDecompressor()
        self._dobj = self._dctx.decompressobj()
        self._pending = b""
        self._in_frame = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = self._file.read(_CHUNK)
            if not chunk:
                if self._in_frame:
                    raise zstandard.ZstdError("truncated zstd frame at end of file")
                return 0
            self._feed(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _feed(self, chunk: bytes) -> None:
        while chunk:
            self._in_frame = True
            self._pending += self._dobj.decompress(chunk)
            if not self._dobj.eof:
                return
            self._in_frame = False
            chunk = self._dobj.unused_data
            self._dobj = self._dctx.decompressobj()

    def close(self) -> None:
        self._file.close()
        super().close()


def capped_lines(stream: IO[bytes], cap: int) -> Iterator[tuple[bytes | None, int]]:
    """Yield (line, size) per line; line is None when the line is longer than `cap` bytes."""
    while True:
        line = stream.readline(cap + 1)
        if not line:
            return
        if len(line) <= cap or line.endswith(b"\n"):
            yield line, len(line)
            continue
        size = len(line)
        while True:
            rest = stream.readline(_CHUNK)
            size += len(rest)
            if not rest or rest.endswith(b"\n"):
                break
        yield None, size


class JsonlReader(Reader):
    name = "jsonl"

    def _read(self, path: str, result: ReadResult) -> Iterator[Document]:
        opts = self.opts
        # JSON escapes can make a line several times larger than its text (\u00e9 is 6 bytes).
        line_cap = 4 * opts.max_doc_bytes + (1 << 20)
        default_source = file_stem(path)
        with open_binary(path) as stream:
            for lineno, (line, size) in enumerate(capped_lines(stream, line_cap), start=1):
                where = f"{path}:{lineno}"
                if line is None:
                    result.reject("too_large", where, size)
                    continue
                if not line.strip():
                    continue
                try:
                    decoded = line.decode("utf-8")
                except UnicodeDecodeError:
                    result.reject("invalid_utf8", where, size)
                    continue
                try:
                    record = json.loads(decoded)
                except json.JSONDecodeError:
                    result.reject("invalid_json", where, size)
                    continue
                if not isinstance(record, dict):
                    result.reject("not_an_object", where, size)
                    continue
                text = record.get(opts.text_field)
                reason, nbytes = check_text(text, opts)
                if reason:
                    result.reject(reason, where, nbytes or size)
                    continue
                doc = make_document(record, text, path, {"line": lineno}, opts, default_source)
                result.accept(doc, nbytes)
                yield doc
