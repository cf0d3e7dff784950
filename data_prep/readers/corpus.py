"""The clean corpus prep writes: `<corpus>/<lang>/<split>/*.jsonl.zst`, found and read.

The tokenizer trainer, pack and evals read it through the same JSON Lines reader as prep's raw
input, so bad lines, truncated files and their reasons are counted the same way everywhere.
The corpus is also a HuggingFace dataset (`hf_card.py` writes its card): one config per language.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from data_prep.document import Document
from data_prep.readers.base import ReaderOptions, ReadResult
from data_prep.readers.jsonl import JsonlReader
from llm_train.errors import DataError

SUFFIXES = (".jsonl.zst", ".jsonl.gz", ".jsonl")
SPLITS = ("train", "validation")
# Prep already capped documents at its own limit, which may be above the raw-input default; the
# documents' meta["input"] is their raw provenance and stays as it is.
CLEAN = ReaderOptions(max_doc_bytes=1 << 31, record_input=False)


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


def read_corpus_file(path: str | Path, result: ReadResult) -> Iterator[Document]:
    """The documents of one corpus file; every unusable line is counted in `result` and skipped."""
    return JsonlReader(CLEAN).read(str(path), result)
