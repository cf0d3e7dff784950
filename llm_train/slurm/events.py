"""The run's job log: `<run_dir>/slurm/events.jsonl`, one JSON object per job transition.

The job scripts append their own lines (started, signal, requeued, finished, failed); Python adds
"submitted". One short line per O_APPEND write, so concurrent writers do not interleave.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)


def events_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / "slurm" / "events.jsonl"


def record(run_dir: str | Path, event: str, **fields) -> dict:
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event, **fields}
    path = events_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entry


def read(run_dir: str | Path) -> list[dict]:
    """Every event; a line cut short by a crash is skipped with a warning."""
    path = events_path(run_dir)
    if not path.is_file():
        return []
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s:%d: not a JSON line, skipped", path, number)
    return out


def submitted_jobs(run_dir: str | Path) -> list[dict]:
    return [e for e in read(run_dir) if e.get("event") == "submitted"]
