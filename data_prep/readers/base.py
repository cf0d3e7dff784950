"""What every reader shares: record checks, bad-input counting and document construction.

A reader turns one input shard (raw input for prep, or one file of a clean corpus for the
tokenizer, pack and evals) into Documents. Bad records never raise: they are counted per reason in
the reader's `StepStats` (as `dropped.read_<reason>`, the filter convention) and a few `file:line`
samples per reason are kept for the log, stats.json and the pack/tokenizer/eval reports.

The reasons, one set for every format and every caller:
    invalid_json, not_an_object   a JSON line that is not a JSON object
    invalid_utf8                  bytes that are not UTF-8 (or lone surrogates from JSON escapes)
    missing_text, non_string_text the text field is absent / null, or not a string
    empty_text                    only whitespace (or, for HTML, no main text found)
    too_large                     above `max_doc_bytes`
    binary                        binary data decoded as text (see `looks_binary`)
    corrupt_file                  the rest of a truncated or corrupt file (bad gzip/zstd frame,
                                  broken parquet or arrow file); what was read before is kept
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import xxhash
import zstandard

from data_prep.document import Document
from data_prep.pipeline.stats import StepStats

log = logging.getLogger(__name__)

SAMPLES_PER_REASON = 5
REASONS = (
    "invalid_json",
    "not_an_object",
    "invalid_utf8",
    "missing_text",
    "non_string_text",
    "empty_text",
    "too_large",
    "binary",
    "corrupt_file",
)
# C0 codes that real text carries besides whitespace: the formatting codes of chat and terminal
# logs (mIRC bold/colour/reset/reverse/italic/underline \x02 \x03 \x0f \x16 \x1d \x1f, CTCP
# \x01, ANSI escape \x1b, backspace overstrike \x08). `normalize` strips them.
_FORMATTING = re.compile(r"[\x01-\x03\x08\x0f\x16\x1b\x1d\x1f]")
# Every other control code (NUL included): in text they are rare, in binary data common.
_BINARY_CONTROL = re.compile(r"[\x00\x04-\x07\x0e\x10-\x15\x17-\x1a\x1c\x1e\x7f]")
# More than this fraction of such codes means the "text" is binary data (UTF-16, packed numbers).
BINARY_CONTROL_FRACTION = 0.01
# Formatting codes above this fraction are no longer formatting: a text is mostly letters.
FORMATTING_FRACTION = 0.3
_ANY_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


@dataclass
class ReaderOptions:
    text_field: str = "text"
    id_field: str = "id"
    # Source name for records that carry none; None uses the input file's stem.
    source: str | None = None
    max_doc_bytes: int = 10 * 1024 * 1024
    # Record the input file and position in meta["input"]; off for the clean corpus, whose
    # meta["input"] already names the raw input a document came from.
    record_input: bool = True


@dataclass
class ReadResult:
    """Per-shard reading counters plus `file:line` samples of skipped records."""

    stats: StepStats = field(default_factory=lambda: StepStats("read"))
    samples: dict[str, list[str]] = field(default_factory=dict)

    def reject(self, reason: str, where: str, nbytes: int = 0) -> None:
        key = f"read_{reason}"
        self.stats.update("docs_in", 1)
        self.stats.update("bytes_in", nbytes)
        self.stats.drop(key, nbytes)
        samples = self.samples.setdefault(key, [])
        if len(samples) < SAMPLES_PER_REASON:
            samples.append(where)

    def accept(self, doc: Document, nbytes: int) -> None:
        self.stats.update("docs_in", 1)
        self.stats.update("bytes_in", nbytes)
        self.stats.update("docs_out", 1, doc.lang)
        self.stats.update("bytes_out", nbytes, doc.lang)
        self.stats.update(f"source.{doc.source}.docs", 1)
        self.stats.update(f"source.{doc.source}.bytes", nbytes)

    @property
    def skipped(self) -> dict[str, int]:
        """Skipped records per reason (without the `read_` prefix)."""
        return {
            key.removeprefix("dropped.read_"): int(value)
            for key, value in sorted(self.stats.counters.items())
            if key.startswith("dropped.read_") and value
        }

    def to_json(self) -> dict[str, Any]:
        """What a consumer of a corpus reports: skipped records per reason and where a few were."""
        problems = [
            {"reason": reason.removeprefix("read_"), "where": where}
            for reason, wheres in sorted(self.samples.items())
            for where in wheres
        ]
        return {"skipped": self.skipped, "problems": problems}

    def log_samples(self, shard: str) -> None:
        for reason, where in sorted(self.samples.items()):
            count = int(self.stats[f"dropped.{reason}"])
            log.warning("%s: skipped %d record(s) (%s), e.g. %s", shard, count, reason, ", ".join(where))


def looks_binary(text: str) -> bool:
    """Binary data that happened to decode as UTF-8, not text with a few control codes.

    IRC logs with mIRC colour codes, terminal logs with ANSI escapes and man pages with backspace
    overstrike are text; UTF-16, packed numbers or archives carry many other C0 codes (NUL above
    all). A stray NUL in a long text is tolerated: `normalize` removes it with the other codes.
    """
    if not _ANY_CONTROL.search(text):
        return False  # nearly every text: one scan
    n = len(text)
    if len(_BINARY_CONTROL.findall(text)) > BINARY_CONTROL_FRACTION * n:
        return True
    return len(_FORMATTING.findall(text)) > FORMATTING_FRACTION * n


def stable_id(path: str, offset: int | str) -> str:
    """An id for records that have none: the same input position always gets the same id."""
    return xxhash.xxh64_hexdigest(f"{path}\x00{offset}".encode())


def check_text(text: Any, opts: ReaderOptions) -> tuple[str | None, int]:
    """Return (reason, utf-8 size) for a text value; reason is None when the text is usable."""
    if text is None:
        return "missing_text", 0
    if not isinstance(text, str):
        return "non_string_text", 0
    try:
        nbytes = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        # Lone surrogates from JSON escapes (\ud800): not representable as UTF-8.
        return "invalid_utf8", len(text)
    if nbytes > opts.max_doc_bytes:
        return "too_large", nbytes
    if not text.strip():
        return "empty_text", nbytes
    if looks_binary(text):
        return "binary", nbytes
    return None, nbytes


def make_document(
    record: dict[str, Any],
    text: str,
    path: str,
    position: dict[str, Any],
    opts: ReaderOptions,
    default_source: str,
) -> Document:
    """A Document from a record, with provenance (input file + line/row/offset) in meta["input"]."""
    raw_id = record.get(opts.id_field)
    offset = next(iter(position.values()), "")
    doc_id = str(raw_id) if isinstance(raw_id, str | int) and str(raw_id) else stable_id(path, offset)
    meta = record.get("meta")
    meta = dict(meta) if isinstance(meta, dict) else {}
    if opts.record_input:
        meta["input"] = {"file": path, **position}
    lang = record.get("lang")
    url = record.get("url")
    source = record.get("source")
    return Document(
        id=doc_id,
        text=text,
        lang=lang if isinstance(lang, str) and lang else None,
        source=source if isinstance(source, str) and source else (opts.source or default_source),
        url=url if isinstance(url, str) and url else None,
        meta=meta,
    )


def file_stem(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".gz", ".zst", ".jsonl", ".json", ".parquet", ".arrow", ".warc"):
        name = name.removesuffix(suffix)
    return name


class Reader:
    """Reads one shard. Subclasses implement `_read(path, result)`; `read` adds error containment."""

    name = "reader"

    def __init__(self, opts: ReaderOptions):
        self.opts = opts

    def read(self, path: str, result: ReadResult) -> Iterator[Document]:
        try:
            yield from self._read(path, result)
        except (OSError, EOFError, ValueError, zstandard.ZstdError) as exc:
            # A truncated or corrupt file (bad gzip/zstd frame, broken parquet): keep what was
            # read, count the rest of the file as one bad record and go on with the run.
            log.warning("%s: stopped reading, file is corrupt or truncated: %s", path, exc)
            result.reject("corrupt_file", f"{path}: {type(exc).__name__}: {exc}"[:300])

    def _read(self, path: str, result: ReadResult) -> Iterator[Document]:
        raise NotImplementedError
