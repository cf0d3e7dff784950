"""The Slurm commands, each a thin subprocess call that surfaces Slurm's own error message."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from llm_train.errors import LLMTrainError


class SlurmError(LLMTrainError):
    """A Slurm command failed or rejected a job; the message carries Slurm's own words."""


def run_slurm(cmd: Sequence[str], cwd: str | Path | None = None, timeout: float = 60) -> str:
    try:
        proc = subprocess.run(
            list(cmd), capture_output=True, text=True, cwd=cwd, timeout=timeout, env=dict(os.environ)
        )
    except FileNotFoundError:
        raise SlurmError(f"{cmd[0]}: command not found (is this a Slurm login node?)") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{' '.join(cmd)}: no answer from Slurm in {timeout:.0f} s") from None
    if proc.returncode != 0:
        message = (proc.stderr or proc.stdout).strip() or f"exit code {proc.returncode}"
        raise SlurmError(f"{cmd[0]} failed: {message}")
    return proc.stdout


def sbatch(script: str | Path, args: Sequence[str] = (), cwd: str | Path | None = None) -> str:
    """Submit `script`; return the job id. Options in `args` override the script's #SBATCH lines."""
    try:
        out = run_slurm(["sbatch", "--parsable", *args, str(script)], cwd=cwd)
    except SlurmError as exc:
        raise SlurmError(f"sbatch rejected {script}: {str(exc).removeprefix('sbatch failed: ')}") from None
    # --parsable prints "jobid" or "jobid;cluster".
    return out.strip().split(";")[0]


def scancel(job_id: str, signal: str | None = None, batch_only: bool = False) -> None:
    args = ["scancel"]
    if signal:
        args.append(f"--signal={signal}")
    if batch_only:
        args.append("--batch")
    run_slurm([*args, str(job_id)])


def requeue(job_id: str) -> None:
    run_slurm(["scontrol", "requeue", str(job_id)])
