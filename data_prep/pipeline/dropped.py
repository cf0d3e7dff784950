"""The audit trail of removed documents (`output.write_dropped`): datatrove's exclusion writer.

Every document a step removes is written, with the statistic that decided, to

    <output>/dropped/<step>/<reason>/part-<shard>.jsonl.zst

one JSON object per line: `id`, `lang`, `source`, `url`, `step`, `reason`, `stat` (the measured
value and its threshold, e.g. `{"alpha_words_ratio": 0.71, "min_alpha_words_ratio": 0.8}`), `text`
and `meta`. A data steward reads what a threshold removes before accepting it.

One file per (step, reason, input shard), written in document order through the same atomic,
deterministic zstd writer as the clean corpus: the files are the same bytes whatever the number
of workers, and a rerun of a killed shard rewrites them whole. When the option is off no writer
exists and steps only test `on_drop is None` per removed document.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from data_prep.document import Document
from data_prep.writers.jsonl_zst import JsonlZstWriter

DROPPED_DIR = "dropped"


def dropped_part(output: str | os.PathLike, step: str, reason: str, shard: int) -> Path:
    return Path(output) / DROPPED_DIR / step / reason / f"part-{shard:05d}.jsonl.zst"


def dropped_record(step: str, reason: str, doc: Document, stat: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": doc.id,
        "lang": doc.lang,
        "source": doc.source,
        "url": doc.url,
        "step": step,
        "reason": reason,
        "stat": stat,
        "text": doc.text,
        "meta": doc.meta,
    }


class _RecordWriter(JsonlZstWriter):
    def write_record(self, record: dict[str, Any]) -> None:
        self._zst.write(
            (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        )
        self.docs += 1
        self.bytes += len(record["text"].encode("utf-8"))


class DroppedWriter:
    """Collects one shard's removed documents; `commit()` publishes every file, `abort()` none."""

    def __init__(self, output: str | os.PathLike, shard: int):
        self.output = Path(output)
        self.shard = shard
        self._writers: dict[tuple[str, str], _RecordWriter] = {}

    def __call__(self, step: str, reason: str, doc: Document, stat: dict[str, Any] | None = None) -> None:
        writer = self._writers.get((step, reason))
        if writer is None:
            path = dropped_part(self.output, step, reason, self.shard)
            writer = self._writers[(step, reason)] = _RecordWriter(path)
        writer.write_record(dropped_record(step, reason, doc, stat))

    def commit(self) -> list[dict[str, Any]]:
        files = []
        for (step, reason), writer in sorted(self._writers.items()):
            path = writer.commit()
            files.append(
                {
                    "path": str(path.relative_to(self.output)),
                    "step": step,
                    "reason": reason,
                    "docs": writer.docs,
                }
            )
        self._writers.clear()
        return files

    def abort(self) -> None:
        for writer in self._writers.values():
            writer.abort()
        self._writers.clear()
