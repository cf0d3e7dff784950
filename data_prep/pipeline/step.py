"""The step and filter templates every data_prep step implements.

A step knows nothing of executors, Slurm or paths: `run(docs)` is a generator over documents
and the step counts what it did in `self.stats`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from data_prep.document import Document
from data_prep.pipeline.stats import StepStats


class PipelineStep:
    name: str = "step"

    def __init__(self) -> None:
        self.stats = StepStats(self.name)

    def run(self, docs: Iterable[Document]) -> Iterator[Document]:
        raise NotImplementedError

    def count_in(self, doc: Document) -> None:
        self.stats.update("docs_in", 1, doc.lang)
        self.stats.update("bytes_in", len(doc.text.encode("utf-8")), doc.lang)

    def count_out(self, doc: Document) -> None:
        self.stats.update("docs_out", 1, doc.lang)
        self.stats.update("bytes_out", len(doc.text.encode("utf-8")), doc.lang)

    def count_dropped(self, doc: Document, reason: str) -> None:
        self.stats.drop(reason, len(doc.text.encode("utf-8")), doc.lang)


FilterResult = bool | tuple[bool, str]


class BaseFilter(PipelineStep):
    """Owns the loop and counters; subclasses implement `filter(doc)` only.

    `filter` returns True to keep, or (False, "<filter>_<rule>") to drop with a reason.
    """

    def filter(self, doc: Document) -> FilterResult:
        raise NotImplementedError

    def run(self, docs: Iterable[Document]) -> Iterator[Document]:
        for doc in docs:
            self.count_in(doc)
            result = self.filter(doc)
            keep, reason = (result, f"{self.name}_rejected") if isinstance(result, bool) else result
            if keep:
                self.count_out(doc)
                yield doc
            else:
                self.count_dropped(doc, reason)
