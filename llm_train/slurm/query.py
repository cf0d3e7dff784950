"""The details `llm-train jobs` shows of a run's jobs: exit code, start, elapsed time, nodes and
pending reason, from accounting (sacct) and the controller (squeue), merged into one record each.

A one-shot query for a table. Waiting on jobs (is it over yet?) is submitit's sacct watcher's job
(`handle.py`); sacct here also knows every attempt of a requeued job (-D), squeue pending reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from llm_train.slurm.sbatch import SlurmError, run_slurm

# Job states after which Slurm will not run the job again by itself.
TERMINAL = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "TIMEOUT",
    }
)
SACCT_FIELDS = ("JobID", "JobName", "State", "ExitCode", "Start", "End", "Elapsed", "NodeList", "Partition")


@dataclass(frozen=True)
class JobRecord:
    job_id: str  # "123", or "123_4" for an array task
    name: str
    state: str  # first word: "CANCELLED by 0" -> "CANCELLED"
    exit_code: str = ""
    start: str = ""
    end: str = ""
    elapsed: str = ""
    nodes: str = ""
    partition: str = ""
    reason: str = ""
    source: str = "sacct"

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


def sacct(job_ids: Iterable[str], attempts: bool = False) -> list[JobRecord]:
    """One record per allocation (and per attempt with `attempts`); raises SlurmError without accounting."""
    ids = ",".join(str(j) for j in job_ids)
    if not ids:
        return []
    args = ["sacct", "-n", "-X", "-P", "-j", ids, "-o", ",".join(SACCT_FIELDS)]
    if attempts:
        args.append("-D")
    out = run_slurm(args)
    records = []
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) != len(SACCT_FIELDS):
            continue
        jid, name, state, code, start, end, elapsed, nodes, partition = parts
        records.append(
            JobRecord(
                jid,
                name,
                state.split()[0] if state else "UNKNOWN",
                code,
                start,
                end,
                elapsed,
                nodes,
                partition,
            )
        )
    return records


def squeue(job_ids: Iterable[str]) -> list[JobRecord]:
    ids = ",".join(str(j) for j in job_ids)
    if not ids:
        return []
    # %i id (array tasks as <id>_<n>), %j name, %T state, %S start, %M elapsed, %N nodes, %P partition, %r reason
    out = run_slurm(["squeue", "-h", "-j", ids, "-o", "%i|%j|%T|%S|%M|%N|%P|%r"])
    records = []
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) == 8:
            jid, name, state, start, elapsed, nodes, partition, reason = parts
            records.append(
                JobRecord(jid, name, state, "", start, "", elapsed, nodes, partition, reason, "squeue")
            )
    return records


def states(job_ids: Iterable[str]) -> dict[str, JobRecord]:
    """Latest record per allocation: sacct's, with squeue's view for jobs the controller still holds."""
    ids = [str(j) for j in job_ids]
    merged: dict[str, JobRecord] = {}
    try:
        for rec in sacct(ids):
            merged[rec.job_id] = rec
    except SlurmError:
        pass  # accounting off: the controller's view is all there is
    try:
        live = squeue(ids)
    except SlurmError:
        live = []  # squeue refuses ids the controller has forgotten
    for rec in live:
        # The controller is ahead of accounting by up to a second; prefer it while the job is live.
        old = merged.get(rec.job_id)
        merged[rec.job_id] = rec if old is None or not old.terminal else old
    return merged
