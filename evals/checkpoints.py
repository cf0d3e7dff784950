"""The checkpoints of a run dir as evals sees them, through the run-dir owner (`llm_train.run_dir`).

A step dir without its ready marker is partial (a save in progress or a crash) and a marker without
its dir is missing (deleted by retention or by hand): both are reported and skipped, never loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from evals.errors import CheckpointError
from llm_train.run_dir import CheckpointNotFound, CheckpointScan, RunDir, parse_step, step_name
from llm_train.run_dir import checkpoint_kind as _checkpoint_kind


@dataclass(frozen=True)
class CheckpointRef:
    path: Path
    step: int | None
    run_dir: Path | None

    @property
    def name(self) -> str:
        return self.path.name if self.step is None else step_name(self.step)


def is_run_dir(path: Path) -> bool:
    return RunDir(path).is_run_dir()


def scan(run_dir: Path) -> CheckpointScan:
    return RunDir(run_dir).scan()


def latest_ready(run_dir: Path) -> int | None:
    return RunDir(run_dir).latest_step()


def ref_for_step(run_dir: Path, step: int) -> CheckpointRef:
    try:
        return CheckpointRef(RunDir(run_dir).checkpoint(step), step, Path(run_dir))
    except CheckpointNotFound as exc:
        raise CheckpointError(str(exc)) from None


def ref_for_path(path: Path) -> CheckpointRef:
    """A checkpoint dir given directly: a run's `step-N` (marker checked) or an HF export dir."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: checkpoint not found")
    step = parse_step(path.name)
    if step is not None and path.parent.name == "checkpoints":
        return ref_for_step(path.parent.parent, step)
    return CheckpointRef(path, _step_from_files(path), None)


def _step_from_files(path: Path) -> int | None:
    for name in ("trainer_state.json", "llm_train_export.json"):
        try:
            step = json.loads((path / name).read_text()).get("step")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(step, int):
            return step
    return None


def checkpoint_kind(path: Path) -> str:
    try:
        return _checkpoint_kind(path)
    except CheckpointNotFound as exc:
        raise CheckpointError(str(exc)) from None
