"""RUN_DIR/evals/results.jsonl: one record per (checkpoint, suite) evaluation, result or failure.

Several writers can meet here (the watcher, Slurm eval jobs, a manual `eval run`): each append
takes an exclusive lock, then rewrites the file atomically, so a reader never sees a torn line and
a crash leaves the old file. The newest record per (step, suite) wins: a retried failure appends a
result after it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path

from llm_train.utils.atomic import atomic_write_text

RESULTS = "results.jsonl"


def results_path(run_dir: Path) -> Path:
    return Path(run_dir) / "evals" / RESULTS


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def append_record(path: Path, record: dict) -> None:
    path = Path(path)
    line = json.dumps(record, ensure_ascii=False, allow_nan=True) + "\n"
    with locked(path):
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        if old and not old.endswith("\n"):
            old += "\n"
        atomic_write_text(path, old + line)


def read_records(path: Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                out.append(record)
    return out


def latest_by_step(records: list[dict], suite: str) -> dict[int, dict]:
    """{step: newest record} for one suite (records without a step are manual runs on a path)."""
    out: dict[int, dict] = {}
    for record in records:
        if record.get("suite") == suite and isinstance(record.get("step"), int):
            out[record["step"]] = record
    return out
