"""Held-out documents per language from a clean corpus (`<corpus>/<lang>/validation/*.jsonl.zst`).

Reading (decompression, truncated files, bad lines counted by reason) is data_prep's one corpus
reader; this module only picks the first N documents of each language, in file order, so every
checkpoint of a run is scored on the same texts.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from data_prep.readers import ReadResult
from data_prep.readers.corpus import discover, read_corpus_file

SPLIT = "validation"


def validation_docs(
    corpus: str | Path, languages: list[str] | None, max_docs: int, report: ReadResult | None = None
) -> dict[str, list[dict]]:
    report = report if report is not None else ReadResult()
    docs: dict[str, list[dict]] = defaultdict(list)
    for file in discover(corpus, SPLIT, languages or None):
        if len(docs[file.lang]) >= max_docs:
            continue
        for doc in read_corpus_file(file.path, report):
            docs[file.lang].append(doc.to_json())
            if len(docs[file.lang]) >= max_docs:
                break
    return dict(sorted(docs.items()))
