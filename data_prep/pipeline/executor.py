"""Executors run prep tasks; they know nothing of what a task does (see `tasks.run_task`).

One executor, two places, one code path: the tasks of a stage are split into groups and
`array_task.run_group` runs each group as one task of a submitit job array:
- `--executor slurm --cluster SITE`: a Slurm job array built by the project's job layer from the
  cluster profile (modules, container, environment, account, partition, QoS), at most
  `executor.slurm.array_limit` tasks at once, `shards_per_task` tasks per array task run on the
  task's `cpus_per_task` CPUs;
- `--executor local`: the same array through submitit's LocalExecutor, `workers` processes, the
  groups balanced by input size.
Progress comes from the tasks' done markers. A task that dies is reported with its log path and
the stage fails; a rerun submits only the groups whose tasks have no marker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from data_prep.config import SlurmSection
from data_prep.pipeline.array_task import run_group
from data_prep.pipeline.state import Plan, Workdir
from data_prep.pipeline.tasks import Task, TaskResult
from llm_train.errors import LLMTrainError
from llm_train.slurm import functions
from llm_train.slurm.build import SubmitOptions, build_job
from llm_train.slurm.job import Job, JobArray, Resources
from llm_train.slurm.options import check_sbatch_options
from llm_train.slurm.profile import Site

log = logging.getLogger(__name__)

OnResult = Callable[[TaskResult], None]
KIND = "prep-array"


class TaskFailed(LLMTrainError):
    """A task did not finish: it raised (a bug or an environment problem, not bad input, which is
    counted and skipped), or its job was killed, timed out or lost its node."""


class Executor:
    def run(self, output: str, tasks: list[Task], on_result: OnResult | None = None) -> list[TaskResult]:
        raise NotImplementedError


def prep_array_job(
    site: Site, slurm: SlurmSection, output: str, stage: str, groups: int, workdir: Path | None = None
) -> Job:
    """The Slurm job array of one stage, from the cluster profile like every other job kind."""
    check_sbatch_options(slurm.extra, "executor.slurm.extra")
    opts = SubmitOptions(
        partition=slurm.partition,
        account=slurm.account,
        qos=slurm.qos,
        time=slurm.time,
        cpus_per_task=slurm.cpus_per_task,
        mem=slurm.mem,
        sbatch=tuple(slurm.extra),
        job_name=f"{site.job_name}-{stage}",
    )
    root = Workdir(output).root
    command = ["data_prep.pipeline.array_task.run_group", str(output), stage, "<group of task indices>"]
    array = JobArray(groups, min(groups, slurm.array_limit))
    return build_job(site, KIND, command, root, opts, workdir or Path.cwd(), array=array)


def local_job(output: str, stage: str, name: str) -> Job:
    """The same array on this machine: only the folder of its logs matters."""
    root = Workdir(output).root
    command = ["data_prep.pipeline.array_task.run_group", str(output), stage]
    return Job(KIND, f"{name}-{stage}", str(root), str(Path.cwd()), tuple(command), Resources("INFINITE"))


@dataclass
class ArrayExecutor(Executor):
    """`site`/`slurm` set: Slurm arrays; else local worker processes (`workers`)."""

    workers: int = 1
    site: Site | None = None
    slurm: SlurmSection | None = None
    name: str = "prep"
    # How often the executor asks Slurm (sacct) for the array's state; done markers are checked
    # every `poll_s` for progress, and all jobs are confirmed ended once every marker exists.
    state_poll_s: float = 30.0
    poll_s: float = 0.5

    @property
    def local(self) -> bool:
        return self.site is None

    def run(self, output: str, tasks: list[Task], on_result: OnResult | None = None) -> list[TaskResult]:
        if not tasks:
            return []
        workdir = Workdir(output)
        stage = tasks[0].stage
        groups = self.groups(workdir, tasks)
        if self.local:
            job = local_job(output, stage, self.name)
        else:
            job = prep_array_job(self.site, self.slurm, output, stage, len(groups))
        call = functions.RecordedCheckpointable(str(workdir.root), KIND, run_group)
        n = len(groups)
        # A Slurm task uses every CPU it was given; a local worker is one process of `workers`.
        processes = 1 if self.local else job.resources.cpus_per_task or 1
        jobs = functions.map_array(
            job, call, [str(output)] * n, [stage] * n, groups, [processes] * n, local=self.local
        )
        where = "local processes" if self.local else f"Slurm array {jobs[0].job_id.split('_')[0]}"
        log.info("%s: %d task(s) in %d group(s) as %s", stage, len(tasks), n, where)
        try:
            self._wait(workdir, tasks, jobs, on_result)
        except BaseException:
            for j in jobs:
                if not j.done():
                    j.cancel(check=False)  # never leave tasks writing behind a stopped driver
            raise
        failed = [
            (g, j) for g, j in zip(groups, jobs, strict=True) if not all(workdir.is_done(stage, i) for i in g)
        ]
        if failed:
            raise TaskFailed(_failure_report(stage, failed, workdir))
        return [TaskResult(t, workdir.result(t.stage, t.index), 0.0, skipped=False) for t in tasks]

    def groups(self, workdir: Workdir, tasks: list[Task]) -> list[list[int]]:
        indices = [t.index for t in tasks]
        if not self.local:
            size = self.slurm.shards_per_task
            # Consecutive indices per array task; a rerun groups only what is left.
            return [indices[i : i + size] for i in range(0, len(indices), size)]
        count = min(self.workers, len(indices))
        sizes = _sizes(workdir, tasks[0].stage, indices)
        # Largest first onto the least loaded worker: balanced without knowing the run times.
        loads = [0] * count
        out: list[list[int]] = [[] for _ in range(count)]
        for index in sorted(indices, key=lambda i: -sizes[i]):
            k = loads.index(min(loads))
            out[k].append(index)
            loads[k] += sizes[index]
        return [sorted(g) for g in out]

    def _wait(self, workdir: Workdir, tasks: list[Task], jobs, on_result: OnResult | None) -> None:
        pending = list(tasks)
        last_state = time.monotonic()
        while True:
            still = []
            for task in pending:
                if workdir.is_done(task.stage, task.index):
                    if on_result:
                        on_result(
                            TaskResult(task, workdir.result(task.stage, task.index), 0.0, skipped=False)
                        )
                else:
                    still.append(task)
            pending = still
            due = not pending or time.monotonic() - last_state >= self.state_poll_s
            if due:
                last_state = time.monotonic()
                if _all_ended(jobs, self.local):
                    return
            time.sleep(self.poll_s)


def _sizes(workdir: Workdir, stage: str, indices: list[int]) -> dict[int, int]:
    if stage == "dedup":
        return dict.fromkeys(indices, 1)
    shards = Plan.load(workdir).shards
    return {i: max(1, shards[i].bytes) for i in indices}


def _all_ended(jobs, local: bool) -> bool:
    if local:
        return all(j.done() for j in jobs)
    jobs[0].watcher.update()  # one sacct call for the whole array
    return all(j.watcher.is_done(j.job_id, mode="cache") for j in jobs)


def _error(job) -> str:
    """The last line of what the function raised, when it raised (a killed job raised nothing)."""
    try:
        exc = job.exception()
    except Exception:  # an uncompleted job (cancelled, node failure) has no result to read
        return ""
    text = str(exc or "").strip().splitlines()
    return f" ({text[-1].strip()[:300]})" if text else ""


def _failure_report(stage: str, failed, workdir: Workdir) -> str:
    lines = [f"{stage}: {sum(len(g) for g, _ in failed)} task(s) did not finish:"]
    for group, job in failed:
        missing = [i for i in group if not workdir.is_done(stage, i)]
        state = job.state.split()[0] if job.state else "UNKNOWN"
        lines.append(
            f"  {stage} task(s) {', '.join(map(str, missing))}: job {job.job_id} {state}{_error(job)}; "
            f"log {job.paths.stdout}"
        )
    lines.append("Rerun the same `llm-train prep` command: only these tasks are submitted again.")
    return "\n".join(lines)
