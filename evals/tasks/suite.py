"""Resolve `--tasks` / `eval.tasks` entries into task files with their hashes.

An entry is a JSONL file in our format, a directory (every *.jsonl in it), or `FORMAT:PATH` for a
local benchmark file (see `evals.tasks.sources`), e.g. `belebele:/data/belebele/deu_Latn.jsonl`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from evals.errors import EvalError
from evals.tasks.format import TaskFile, load_task_file
from evals.tasks.sources import SOURCES, load_source


def resolve_task(spec: str) -> list[TaskFile]:
    fmt, sep, rest = spec.partition(":")
    if sep and fmt in SOURCES or fmt == "gsm8k":
        path = Path(rest)
        if not path.is_file():
            raise EvalError(f"task file not found: {path} (from {spec!r})")
        examples, skipped = load_source(fmt, path)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        return [TaskFile(path, sha, examples, skipped)]
    path = Path(spec)
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise EvalError(f"task directory {path} holds no *.jsonl files")
        return [load_task_file(f) for f in files]
    if not path.is_file():
        known = ", ".join(SOURCES)
        raise EvalError(
            f"task file not found: {path} (an entry is a JSONL file, a dir or FORMAT:PATH with FORMAT in {known})"
        )
    return [load_task_file(path)]


def resolve_tasks(specs: list[str]) -> list[TaskFile]:
    return [tf for spec in specs for tf in resolve_task(spec)]
