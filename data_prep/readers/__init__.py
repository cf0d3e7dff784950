"""The one corpus reader: raw input shards for prep, and the clean corpus for the tokenizer, pack
and evals. Every format yields Documents and counts bad records with one set of reasons
(`base.REASONS`) in a `ReadResult`.

Formats: `jsonl` (.jsonl/.json/.ndjson, plain, .gz or .zst), `parquet`, `arrow`, `warc` (.warc,
.warc.gz), `txt` (a directory of .txt files, one document each) and `hf` (a data file of a local
HuggingFace dataset directory: `expand_input` turns such a directory into its files). The clean
corpus (`<lang>/<split>/*.jsonl.zst`) is read by `corpus.read_corpus_file`.
"""

from __future__ import annotations

from pathlib import Path

from data_prep.readers.base import Reader, ReaderOptions, ReadResult
from data_prep.readers.jsonl import JsonlReader
from data_prep.readers.parquet import ParquetReader
from data_prep.readers.text import TextDirReader
from llm_train.errors import DataError

FORMATS = ("jsonl", "parquet", "arrow", "txt", "warc", "hf")
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".jsonl.gz": "jsonl",
    ".jsonl.zst": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".warc": "warc",
    ".warc.gz": "warc",
}


def detect_format(path: str) -> str:
    if Path(path).is_dir():
        from data_prep.readers.hf import is_dataset_dir

        return "hf" if is_dataset_dir(path) else "txt"
    name = Path(path).name.lower()
    for suffix, fmt in sorted(_SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return fmt
    known = ", ".join(sorted(_SUFFIXES))
    raise DataError(
        f"{path}: cannot tell the input format from the name (known: {known}, a directory of .txt, "
        "or a HuggingFace dataset directory)"
    )


def expand_input(path: str, fmt: str = "auto") -> list[tuple[str, str]]:
    """(path, format) of the shards one input path stands for: a dataset directory is its files."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "hf" and Path(path).is_dir():
        from data_prep.readers.hf import data_files

        files = data_files(path)
        if not files:
            raise DataError(f"{path}: a dataset directory without data files")
        return [(f, "hf") for f in files]
    return [(path, fmt)]


def make_reader(fmt: str, opts: ReaderOptions) -> Reader:
    if fmt == "jsonl":
        return JsonlReader(opts)
    if fmt == "parquet":
        return ParquetReader(opts)
    if fmt == "txt":
        return TextDirReader(opts)
    if fmt in ("arrow", "hf"):
        from data_prep.readers.hf import ArrowReader, DatasetFileReader

        return ArrowReader(opts) if fmt == "arrow" else DatasetFileReader(opts)
    if fmt == "warc":
        from data_prep.readers.warc import WarcReader

        return WarcReader(opts)
    raise DataError(f"unknown input format {fmt!r}; known: {', '.join(FORMATS)}")


__all__ = [
    "FORMATS",
    "ReadResult",
    "Reader",
    "ReaderOptions",
    "detect_format",
    "expand_input",
    "make_reader",
]
