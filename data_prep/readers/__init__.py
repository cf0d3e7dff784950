"""Readers turn one input shard (a file, or a directory of .txt files) into Documents."""

from __future__ import annotations

from pathlib import Path

from data_prep.readers.base import Reader, ReaderOptions, ReadResult
from data_prep.readers.jsonl import JsonlReader
from data_prep.readers.parquet import ParquetReader
from data_prep.readers.text import TextDirReader
from llm_train.errors import DataError

FORMATS = ("jsonl", "parquet", "txt", "warc")
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".jsonl.gz": "jsonl",
    ".jsonl.zst": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".warc": "warc",
    ".warc.gz": "warc",
}


def detect_format(path: str) -> str:
    if Path(path).is_dir():
        return "txt"
    name = Path(path).name.lower()
    for suffix, fmt in sorted(_SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return fmt
    known = ", ".join(sorted(_SUFFIXES))
    raise DataError(
        f"{path}: cannot tell the input format from the name (known: {known}, or a directory of .txt)"
    )


def make_reader(fmt: str, opts: ReaderOptions) -> Reader:
    if fmt == "jsonl":
        return JsonlReader(opts)
    if fmt == "parquet":
        return ParquetReader(opts)
    if fmt == "txt":
        return TextDirReader(opts)
    if fmt == "warc":
        from data_prep.readers.warc import WarcReader

        return WarcReader(opts)
    raise DataError(f"unknown input format {fmt!r}; known: {', '.join(FORMATS)}")


__all__ = ["FORMATS", "ReadResult", "Reader", "ReaderOptions", "detect_format", "make_reader"]
