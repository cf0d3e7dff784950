"""Submit jobs and chains: render, save the exact script in the run dir, sbatch, log the event.

Script jobs are rendered here and submitted with sbatch; function jobs go through submitit
(`functions.py`), which saves its own script in `<run_dir>/slurm/<kind>/<id>/`. Chains (`afterok`
between stages, `afterany` between train segments) are the same for both.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from llm_train import storage
from llm_train.slurm import events, functions
from llm_train.slurm.handle import JobHandle
from llm_train.slurm.job import Job
from llm_train.slurm.render import render
from llm_train.slurm.sbatch import sbatch
from llm_train.utils.atomic import atomic_write_text


def script_path(job: Job) -> Path:
    """`<run_dir>/slurm/<kind>-<timestamp>.sbatch`, unique even within one second."""
    folder = Path(job.run_dir) / "slurm"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"{job.kind}-{stamp}.sbatch"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{job.kind}-{stamp}-{n}.sbatch"
    return path


def save_script(job: Job, text: str | None = None) -> Path:
    path = script_path(job)
    atomic_write_text(path, render(job) if text is None else text)
    storage.fix_mode(path, executable=True)
    return path


def submit_job(job: Job, dependency: str | None = None, args: Sequence[str] = ()) -> JobHandle:
    """Render + save + sbatch. `dependency` e.g. "afterok:12:13"; kept off the script so a hand
    resubmission of the saved file does not wait for jobs that no longer exist."""
    (Path(job.run_dir) / "slurm").mkdir(parents=True, exist_ok=True)
    if job.spec.launch == "function":
        runner = functions.RUNNERS[job.kind]
        call = functions.Recorded(job.run_dir, job.kind, runner)
        sub = functions.submit(job, call, (list(job.command[1:]),), dependency=dependency)
        return JobHandle(sub.job_id, Path(job.run_dir), functions.script_of(job, sub.job_id), job.kind)
    path = save_script(job)
    sbatch_args = list(args)
    if dependency:
        sbatch_args += [f"--dependency={dependency}", "--kill-on-invalid-dep=yes"]
    job_id = sbatch(path, sbatch_args, cwd=job.workdir)
    events.record(
        job.run_dir,
        "submitted",
        kind=job.kind,
        job_id=job_id,
        name=job.name,
        script=path.name,
        sbatch_args=sbatch_args,
    )
    return JobHandle(job_id, Path(job.run_dir), path, job.kind)


def submit_chain(jobs: Sequence[Job], condition: str = "afterok") -> list[JobHandle]:
    """Each job starts after the previous one: `afterok` for prep -> pack -> train -> eval,
    `afterany` for train segments on sites without requeue (each resumes from the checkpoint)."""
    handles: list[JobHandle] = []
    for job in jobs:
        dependency = f"{condition}:{handles[-1].job_id}" if handles else None
        handles.append(submit_job(job, dependency))
    return handles
