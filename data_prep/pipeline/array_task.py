"""What one prep array task runs, on a Slurm node or in a local worker process: a group of tasks of
one stage, one after the other, each skipped if its done marker exists.

Because every finished task leaves its marker, the group is resumable: submitit requeues it after
a time limit or a preemption (`Checkpointable`) and the requeued task picks up where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from data_prep.pipeline.tasks import Task, run_task

log = logging.getLogger(__name__)


def run_group(output: str, stage: str, indices: Sequence[int]) -> list[int]:
    """Run tasks `indices` of `stage`; returns the indices this call ran (not those already done)."""
    ran = []
    for index in indices:
        res = run_task(output, Task(stage, index))
        log.info(
            "%s task %d %s (%.2f s)", stage, index, "already done" if res.skipped else "done", res.seconds
        )
        if not res.skipped:
            ran.append(index)
    return ran
