"""The step and filter templates every data_prep step implements.

A step knows nothing of executors, Slurm or paths: `run(docs)` is a generator over documents
and the step counts what it did in `self.stats`. A removed document also goes to `on_drop`
when the executor sets one (the audit trail of `output.write_dropped`, pipeline/dropped.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from data_prep.document import Document, utf8_size
from data_prep.pipeline.stats import StepStats

# (step name, reason, document, statistic that decided or None)
DropSink = Callable[[str, str, Document, "dict[str, Any] | None"], None]


class PipelineStep:
    name: str = "step"
    on_drop: DropSink | None = None

    def __init__(self) -> None:
        self.stats = StepStats(self.name)

    def run(self, docs: Iterable[Document]) -> Iterator[Document]:
        raise NotImplementedError

    def count_in(self, doc: Document) -> None:
        self.stats.update("docs_in", 1, doc.lang)
        self.stats.update("bytes_in", utf8_size(doc.text), doc.lang)

    def count_out(self, doc: Document) -> None:
        self.stats.update("docs_out", 1, doc.lang)
        self.stats.update("bytes_out", utf8_size(doc.text), doc.lang)

    def count_dropped(self, doc: Document, reason: str, stat: dict[str, Any] | None = None) -> None:
        self.stats.drop(reason, utf8_size(doc.text), doc.lang)
        if self.on_drop is not None:
            self.on_drop(self.name, reason, doc, stat)


# Documents a step handles in a row before the next step takes them (see `run_steps`).
BURST = 128


def bursts(docs: Iterable[Document], size: int = BURST) -> Iterator[Document]:
    """The same documents, pulled from upstream `size` at a time."""
    it = iter(docs)
    while batch := list(islice(it, size)):
        yield from batch


def run_steps(steps: list[PipelineStep], docs: Iterable[Document]) -> Iterator[Document]:
    """The steps chained, each running on bursts of documents rather than one document at a time.

    A generator chain interleaves the steps per document, so each step's tables (heliport's
    model, the word splitter's caches) are evicted from the CPU caches by the others' between two
    documents; in bursts they stay warm (language ID about a third faster on documentation text).
    Order and results are those of the plain chain.
    """
    for step in steps:
        docs = step.run(bursts(docs))
    return docs


# True to keep; (False, reason) to drop; (False, reason, statistic) to drop and say what decided,
# e.g. (False, "gopher_below_alpha_ratio", {"alpha_words_ratio": 0.71, "min_alpha_words_ratio": 0.8}).
FilterResult = bool | tuple[bool, str] | tuple[bool, str, dict[str, Any]]


def drop_parts(result: FilterResult, default_reason: str) -> tuple[bool, str, dict[str, Any] | None]:
    """(keep, reason, statistic) of any filter result."""
    if isinstance(result, bool):
        return result, default_reason, None
    return result[0], result[1], result[2] if len(result) > 2 else None


class BaseFilter(PipelineStep):
    """Owns the loop and counters; subclasses implement `filter(doc)` only.

    `filter` returns True to keep, or (False, "<filter>_<rule>"[, statistic]) to drop with a reason.
    """

    def filter(self, doc: Document) -> FilterResult:
        raise NotImplementedError

    def run(self, docs: Iterable[Document]) -> Iterator[Document]:
        for doc in docs:
            self.count_in(doc)
            keep, reason, stat = drop_parts(self.filter(doc), f"{self.name}_rejected")
            if keep:
                self.count_out(doc)
                yield doc
            else:
                self.count_dropped(doc, reason, stat)
