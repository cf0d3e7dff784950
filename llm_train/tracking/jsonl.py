"""metrics.jsonl: one JSON object per line, appended and flushed; the source of truth for metrics.

Records: {"step", "time", "context": {"subset": "train"|"valid", "lang"?}, "metrics": {name: value}}
and events: {"step", "time", "event": "start"|"resume"|"skip"|"rollback"|"interrupted"|..., ...}.
A resumed or rolled-back run appends again; readers take the last record per (step, context).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _clean(value: Any) -> Any:
    # JSON has no NaN/Inf; keep them visible as strings rather than writing invalid JSON.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class JsonlWriter:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run

    def write(self, record: dict) -> None:
        record = {"time": round(time.time(), 3), **record}
        if "metrics" in record:
            record["metrics"] = {k: _clean(v) for k, v in record["metrics"].items()}
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def log(self, step: int, metrics: dict[str, float], context: dict[str, str]) -> None:
        self.write({"step": step, "context": context, "metrics": metrics})

    def event(self, step: int, event: str, **fields: Any) -> None:
        self.write({"step": step, "event": event, **{k: _clean(v) for k, v in fields.items()}})

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def read_metrics(path: Path) -> Iterator[dict]:
    """Metric records (not events); a torn last line from a killed writer is skipped."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "metrics" in record:
                yield record


def read_events(path: Path) -> list[dict]:
    """Event records (start, resume, skip, ...), in order; a torn last line is skipped."""
    out = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "event" in record:
                out.append(record)
    return out


def last_per_step(path: Path, subset: str = "train") -> dict[int, dict]:
    """{step: metrics} of the newest record per step for one subset (resumes append duplicates)."""
    out: dict[int, dict] = {}
    for record in read_metrics(path):
        if record.get("context", {}).get("subset") == subset and len(record["context"]) == 1:
            out[record["step"]] = record["metrics"]
    return out
