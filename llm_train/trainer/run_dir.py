"""The run dir: `<runs_dir>/<experiment>/<run-id>/` with the resolved config and its hash."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from llm_train.config.loader import ResolvedConfig
from llm_train.errors import LaunchError
from llm_train.launch.dist_env import DistEnv
from llm_train.utils.atomic import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)


def default_run_id(dist: DistEnv) -> str:
    """A new timestamped id; under Slurm the job id, so a requeued job finds its own run dir."""
    if dist.job_id:
        return f"job-{dist.job_id}"
    if dist.is_distributed:
        raise LaunchError("several ranks need one run id: pass --run-id (llm-train spawns pass it for you)")
    return time.strftime("%Y%m%d-%H%M%S")


def run_dir_for(resolved: ResolvedConfig, run_id: str) -> Path:
    cfg = resolved.config
    return Path(cfg.runs_dir) / cfg.name / run_id


def prepare_run_dir(resolved: ResolvedConfig, run_dir: Path) -> None:
    """Write config.yaml and config.sha256 (rank 0 or the launcher); a changed config is logged."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("checkpoints", "slurm", "evals"):
        (run_dir / sub).mkdir(exist_ok=True)
    old = run_dir / "config.sha256"
    if old.is_file() and old.read_text().strip() != resolved.sha256:
        log.warning(
            "%s: the config changed since the last start of this run (new sha256 %s)",
            run_dir,
            resolved.sha256,
        )
    atomic_write_text(run_dir / "config.yaml", resolved.yaml)
    atomic_write_text(run_dir / "config.sha256", resolved.sha256 + "\n")


# Written by rank 0 when training stops on a signal after checkpointing, removed when training
# starts. A launcher that cannot see every rank's exit code (srun --kill-on-bad-exit terminates the
# other ranks as soon as the first one exits 124) reads it to tell "interrupted" from "crashed".
INTERRUPTED_MARKER = "interrupted.json"


def mark_interrupted(run_dir: Path, step: int, signal: int | None, job_id: str | None) -> None:
    atomic_write_json(run_dir / INTERRUPTED_MARKER, {"step": step, "signal": signal, "job_id": job_id})


def clear_interrupted(run_dir: Path) -> None:
    (run_dir / INTERRUPTED_MARKER).unlink(missing_ok=True)
