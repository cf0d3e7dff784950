"""What one prep array task runs, on a Slurm node or in a local worker process: a group of tasks of
one stage, each skipped if its done marker exists.

Because every finished task leaves its marker, the group is resumable: submitit requeues it after
a time limit or a preemption (`Checkpointable`) and the requeued task picks up where it stopped.
On a Slurm node the group runs on all CPUs the task was given (`processes`): on a site that hands
out whole nodes, one array task per node with `shards_per_task` >= cores keeps every core busy.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Sequence
from functools import partial

from data_prep.pipeline.tasks import Task, run_task

log = logging.getLogger(__name__)


def run_group(output: str, stage: str, indices: Sequence[int], processes: int = 1) -> list[int]:
    """Run tasks `indices` of `stage`; returns the indices this call ran (not those already done)."""
    run = partial(_run, output, stage)
    if processes <= 1 or len(indices) <= 1:
        ran = [run(i) for i in indices]
    else:
        # spawn, not fork: the parent may hold threads (submitit's, the logger's) and their locks.
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(min(processes, len(indices))) as pool:
            ran = list(pool.imap_unordered(run, indices))
    return sorted(i for i in ran if i is not None)


def _run(output: str, stage: str, index: int) -> int | None:
    res = run_task(output, Task(stage, index))
    log.info("%s task %d %s (%.2f s)", stage, index, "already done" if res.skipped else "done", res.seconds)
    return None if res.skipped else index
