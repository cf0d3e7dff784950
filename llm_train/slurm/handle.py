"""A submitted job: id, run dir, state, wait, cancel.

Job state comes from submitit's sacct watcher for every kind (script jobs too): one batched
`sacct` call for all jobs a process watches, array ranges expanded, finished states cached.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from submitit.slurm.slurm import SlurmJob

from llm_train.slurm.sbatch import scancel


def slurm_state(job_id: str, refresh: bool = True) -> str:
    """One word ("RUNNING", "COMPLETED", "CANCELLED", ..., "UNKNOWN" before accounting has it)."""
    state = SlurmJob.watcher.get_state(str(job_id), mode="force" if refresh else "cache")
    return state.split()[0] if state else "UNKNOWN"  # "CANCELLED by 0" -> "CANCELLED"


def slurm_done(job_id: str, refresh: bool = True) -> bool:
    """Ended for good (submitit's rule: not pending, running, requeued, preempted or unknown)."""
    return SlurmJob.watcher.is_done(str(job_id), mode="force" if refresh else "cache")


def slurm_states(job_ids: list[str]) -> dict[str, tuple[str, bool]]:
    """{job id: (state, ended)} of many jobs from one sacct call."""
    for job_id in job_ids:
        SlurmJob.watcher.register_job(str(job_id))
    SlurmJob.watcher.update()
    return {j: (slurm_state(j, refresh=False), slurm_done(j, refresh=False)) for j in job_ids}


@dataclass(frozen=True)
class JobHandle:
    job_id: str
    run_dir: Path
    script: Path
    kind: str = "generic"

    def state(self) -> str:
        return slurm_state(self.job_id)

    def done(self) -> bool:
        return slurm_done(self.job_id)

    def wait(self, timeout: float | None = None, poll: float = 2.0) -> str:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done():
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {self.job_id} still {self.state()} after {timeout:.0f} s")
            time.sleep(poll)
        return slurm_state(self.job_id, refresh=False)

    def cancel(self) -> None:
        scancel(self.job_id)

    def signal(self, name: str = "USR1") -> None:
        """Send `name` to the batch shell, as --signal=B:... does before the time limit."""
        scancel(self.job_id, signal=name, batch_only=True)
