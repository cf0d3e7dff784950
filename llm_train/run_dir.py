"""The run dir: one owner for its layout. The trainer, evals, export, `jobs`/`logs` and the demo ask here.

Contract (every part of the project reads and writes a run dir only through this module):

    <runs_dir>/<experiment>/<run-id>/
      config.yaml            the resolved config (what `llm-train train RUN_DIR` resumes with)
      config.sha256          its sha256; a changed config is logged as such on the next start
      metrics.jsonl          one JSON object per line: metric records {"step", "time", "context",
                             "metrics"} and trainer events {"step", "time", "event", ...}; appended,
                             never rewritten; the source of truth (Aim is a view of it)
      checkpoints/
        step-<N>/            one checkpoint, written as .step-<N>.tmp/ and renamed when complete
        step-<N>.ready.json  written after the rename: {"step", "final", "time", "backend",
                             "config_sha256", ...}; a step dir without it is incomplete, never read
        latest               text "step-<N>": the newest ready checkpoint (a stale or missing pointer
                             falls back to the newest ready marker)
      data_index/            megatron-core's cached sample/shuffle indices of this run's data
      slurm/                 the exact sbatch scripts submitted, their logs (*.out) and events.jsonl
      evals/                 results.jsonl and report/
      interrupted.json       present while the run is stopped on a signal after checkpointing
      hangs/<time>/          per-rank Python stacks dumped by the hang watchdog
      bad_nodes.txt          nodes the burn-in found bad, excluded on requeue

What a checkpoint dir holds depends on the backend that wrote it (named in its ready marker):
`megatron`: megatron-core dist_checkpointing (`metadata.json` with `sharded_backend`);
`deepspeed`: `deepspeed/` plus HF-named `model.safetensors`; both carry `model_config.json`
(the model spec), `trainer_state.json` and `rng/rank-<r>.pt`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from llm_train.errors import LLMTrainError

log = logging.getLogger(__name__)

_STEP = re.compile(r"^step-(\d+)$")
_MARKER = re.compile(r"^step-(\d+)\.ready\.json$")
CONFIG_FILE = "config.yaml"
INTERRUPTED_MARKER = "interrupted.json"


class CheckpointNotFound(LLMTrainError):
    """A checkpoint that is missing, incomplete or not one this project wrote."""


def step_name(step: int) -> str:
    return f"step-{step}"


def parse_step(name: str) -> int | None:
    m = _STEP.match(name)
    return int(m.group(1)) if m else None


@dataclass
class CheckpointScan:
    ready: list[int]
    partial: list[int]  # dir without ready marker (a save in progress, or a crash)
    missing: list[int]  # ready marker without dir (deleted by retention or by hand)

    def problems(self) -> list[str]:
        out = [f"step-{s}: no ready marker (incomplete), skipped" for s in self.partial]
        out += [f"step-{s}: ready marker but no checkpoint dir, skipped" for s in self.missing]
        return out


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # -- files -------------------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def config_sha_file(self) -> Path:
        return self.path / "config.sha256"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def data_index(self) -> Path:
        return self.path / "data_index"

    @property
    def slurm(self) -> Path:
        return self.path / "slurm"

    @property
    def evals(self) -> Path:
        return self.path / "evals"

    @property
    def interrupted_file(self) -> Path:
        return self.path / INTERRUPTED_MARKER

    @property
    def hangs(self) -> Path:
        return self.path / "hangs"

    @property
    def bad_nodes_file(self) -> Path:
        return self.path / "bad_nodes.txt"

    def is_run_dir(self) -> bool:
        return self.config_file.is_file() or self.checkpoints.is_dir()

    # -- checkpoints ---------------------------------------------------------------------------
    def step_dir(self, step: int) -> Path:
        return self.checkpoints / step_name(step)

    def ready_marker(self, step: int) -> Path:
        return self.checkpoints / f"{step_name(step)}.ready.json"

    def tmp_dir(self, step: int) -> Path:
        return self.checkpoints / f".{step_name(step)}.tmp"

    @property
    def latest_pointer(self) -> Path:
        return self.checkpoints / "latest"

    def scan(self) -> CheckpointScan:
        dirs, markers = set(), set()
        if self.checkpoints.is_dir():
            for entry in self.checkpoints.iterdir():
                if (m := _STEP.match(entry.name)) and entry.is_dir():
                    dirs.add(int(m.group(1)))
                elif m := _MARKER.match(entry.name):
                    markers.add(int(m.group(1)))
        return CheckpointScan(sorted(dirs & markers), sorted(dirs - markers), sorted(markers - dirs))

    def ready_steps(self) -> list[int]:
        return self.scan().ready

    def latest_step(self) -> int | None:
        """The step `latest` names if it is ready, else the newest ready step (stale pointer)."""
        ready = self.ready_steps()
        if self.latest_pointer.is_file():
            step = parse_step(self.latest_pointer.read_text().strip())
            if step in ready:
                return step
        return ready[-1] if ready else None

    def latest_checkpoint(self) -> Path | None:
        step = self.latest_step()
        return None if step is None else self.step_dir(step)

    def checkpoint(self, step: int) -> Path:
        """A ready checkpoint's dir, or CheckpointNotFound saying why it cannot be read."""
        path = self.step_dir(step)
        if not path.is_dir():
            raise CheckpointNotFound(f"{path}: checkpoint not found")
        if not self.ready_marker(step).is_file():
            raise CheckpointNotFound(f"{path}: no ready marker (incomplete checkpoint)")
        return path

    def marker(self, step: int) -> dict:
        return _read_json(self.ready_marker(step))

    # -- metrics and events --------------------------------------------------------------------
    def metrics(self) -> Iterator[dict]:
        """Metric records of metrics.jsonl, in order (a torn last line is skipped)."""
        from llm_train.tracking.jsonl import read_metrics

        return read_metrics(self.metrics_file) if self.metrics_file.is_file() else iter(())

    def events(self, name: str | None = None) -> list[dict]:
        """Trainer events of metrics.jsonl (start, resume, skip, rollback, interrupted, ...)."""
        from llm_train.tracking.jsonl import read_events

        found = read_events(self.metrics_file) if self.metrics_file.is_file() else []
        return [e for e in found if name is None or e["event"] == name]

    def job_events(self) -> list[dict]:
        """Slurm job transitions of slurm/events.jsonl (submitted, started, requeued, ...)."""
        from llm_train.slurm import events

        return events.read(self.path)

    def train_losses(self) -> list[tuple[int, float]]:
        return [
            (r["step"], r["metrics"]["loss"])
            for r in self.metrics()
            if r.get("context", {}).get("subset") == "train" and "loss" in r["metrics"]
        ]

    # -- lifecycle -----------------------------------------------------------------------------
    def prepare(self, config_yaml: str, config_sha256: str) -> None:
        """Write config.yaml and config.sha256 (rank 0 or the launcher)."""
        from llm_train import storage
        from llm_train.utils.atomic import atomic_write_text

        storage.make_dirs(self.path)
        for sub in (self.checkpoints, self.slurm, self.evals):
            sub.mkdir(exist_ok=True)
        atomic_write_text(self.config_file, config_yaml)
        atomic_write_text(self.config_sha_file, config_sha256 + "\n")

    # Written by rank 0 when training stops on a signal after checkpointing, removed when training
    # starts. A launcher that cannot see every rank's exit code (srun --kill-on-bad-exit terminates
    # the other ranks as soon as the first one exits 124) reads it to tell "interrupted" from "crashed".
    def mark_interrupted(
        self, step: int, signal: int | None, job_id: str | None, reason: str = "signal"
    ) -> None:
        from llm_train.utils.atomic import atomic_write_json

        marker = {"step": step, "signal": signal, "job_id": job_id, "reason": reason}
        atomic_write_json(self.interrupted_file, marker)

    def clear_interrupted(self) -> None:
        self.interrupted_file.unlink(missing_ok=True)


def default_run_id(job_id: str | None, distributed: bool) -> str:
    """A new timestamped id; under Slurm the job id, so a requeued job finds its own run dir."""
    if job_id:
        return f"job-{job_id}"
    if distributed:
        raise LLMTrainError("several ranks need one run id: pass --run-id (llm-train spawns pass it for you)")
    return time.strftime("%Y%m%d-%H%M%S")


def checkpoint_kind(path: Path) -> str:
    """What a checkpoint dir holds: 'megatron' (dist_checkpointing), 'native-hf' (our spec +
    HF-named safetensors: the DeepSpeed backend's and `export --to hf`'s) or 'hf' (any HF model)."""
    path = Path(path)
    meta = _read_json(path / "metadata.json")
    if "sharded_backend" in meta:
        return "megatron"
    if (path / "model_config.json").is_file() and (path / "model.safetensors").is_file():
        return "native-hf"
    if (path / "config.json").is_file():
        return "hf"
    present = ", ".join(sorted(p.name for p in path.iterdir())[:10]) if path.is_dir() else "nothing"
    raise CheckpointNotFound(
        f"{path}: not a checkpoint this project can read (found: {present or 'nothing'})"
    )


def resolve_checkpoint(path: str | Path) -> Path:
    """A run dir means its latest ready checkpoint; `checkpoints/` likewise; anything else as given."""
    path = Path(path)
    for run in (RunDir(path), RunDir(path.parent) if path.name == "checkpoints" else None):
        if run is not None and run.checkpoints.is_dir() and (run.is_run_dir() or run.ready_steps()):
            latest = run.latest_checkpoint()
            if latest is None:
                raise CheckpointNotFound(f"{run.path}: no ready checkpoint yet")
            return latest
    step = parse_step(path.name)
    if step is not None and path.parent.name == "checkpoints":
        return RunDir(path.parent.parent).checkpoint(step)
    return path


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
