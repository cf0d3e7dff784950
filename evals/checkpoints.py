"""Find the checkpoints of a run dir and tell what each one is.

Run dir contract: `checkpoints/step-<N>/` is complete only when `checkpoints/step-<N>.ready.json`
exists. A step dir without its marker is partial (a save in progress or a crash) and a marker without
its dir is missing (deleted by retention or by hand): both are reported and skipped, never loaded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from evals.errors import CheckpointError

_STEP = re.compile(r"^step-(\d+)$")
_MARKER = re.compile(r"^step-(\d+)\.ready\.json$")


@dataclass(frozen=True)
class CheckpointRef:
    path: Path
    step: int | None
    run_dir: Path | None

    @property
    def name(self) -> str:
        return self.path.name if self.step is None else f"step-{self.step}"


@dataclass
class RunCheckpoints:
    ready: list[int]
    partial: list[int]  # dir without ready marker
    missing: list[int]  # ready marker without dir

    def problems(self) -> list[str]:
        out = [f"step-{s}: no ready marker (incomplete), skipped" for s in self.partial]
        out += [f"step-{s}: ready marker but no checkpoint dir, skipped" for s in self.missing]
        return out


def is_run_dir(path: Path) -> bool:
    return (Path(path) / "checkpoints").is_dir() or (Path(path) / "config.yaml").is_file()


def scan(run_dir: Path) -> RunCheckpoints:
    ckpt = Path(run_dir) / "checkpoints"
    dirs, markers = set(), set()
    if ckpt.is_dir():
        for entry in ckpt.iterdir():
            if (m := _STEP.match(entry.name)) and entry.is_dir():
                dirs.add(int(m.group(1)))
            elif m := _MARKER.match(entry.name):
                markers.add(int(m.group(1)))
    return RunCheckpoints(sorted(dirs & markers), sorted(dirs - markers), sorted(markers - dirs))


def latest_ready(run_dir: Path) -> int | None:
    """The step named by `checkpoints/latest` if it is ready, else the newest ready step."""
    ckpt = Path(run_dir) / "checkpoints"
    ready = scan(run_dir).ready
    pointer = ckpt / "latest"
    if pointer.is_file():
        m = _STEP.match(pointer.read_text().strip())
        if m and int(m.group(1)) in ready:
            return int(m.group(1))
    return ready[-1] if ready else None


def ref_for_step(run_dir: Path, step: int) -> CheckpointRef:
    run_dir = Path(run_dir)
    path = run_dir / "checkpoints" / f"step-{step}"
    if not path.is_dir():
        raise CheckpointError(f"{path}: checkpoint not found")
    if not (run_dir / "checkpoints" / f"step-{step}.ready.json").is_file():
        raise CheckpointError(f"{path}: no ready marker (incomplete checkpoint)")
    return CheckpointRef(path, step, run_dir)


def ref_for_path(path: Path) -> CheckpointRef:
    """A checkpoint dir given directly: a run's `step-N` (marker checked) or an HF export dir."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: checkpoint not found")
    m = _STEP.match(path.name)
    if m and path.parent.name == "checkpoints":
        return ref_for_step(path.parent.parent, int(m.group(1)))
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
    """'native-hf' (our spec + HF-named safetensors), 'megatron' (dist_checkpointing) or 'hf'."""
    path = Path(path)
    meta = path / "metadata.json"
    if meta.is_file():
        try:
            if "sharded_backend" in json.loads(meta.read_text()):
                return "megatron"
        except (OSError, ValueError):
            pass
    if (path / "model_config.json").is_file() and (path / "model.safetensors").is_file():
        return "native-hf"
    if (path / "config.json").is_file():
        return "hf"
    present = ", ".join(sorted(p.name for p in path.iterdir())[:10]) or "nothing"
    raise CheckpointError(f"{path}: not a checkpoint this package can read (found: {present})")
