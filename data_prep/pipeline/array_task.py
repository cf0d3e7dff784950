"""Entry point of one Slurm array task: `python -m data_prep.pipeline.array_task --output DIR --stage S`.

The array index comes from `SLURM_ARRAY_TASK_ID` (or `--array-index`); array task g runs tasks
[g*group_size, (g+1)*group_size) of the stage, skipping those already done.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from data_prep.pipeline.state import STAGES, Plan, Workdir
from data_prep.pipeline.tasks import Task, run_task

log = logging.getLogger(__name__)


def stage_size(workdir: Workdir, stage: str) -> int:
    return len(workdir.languages()) if stage == "dedup" else len(Plan.load(workdir).shards)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_prep.pipeline.array_task", description=__doc__)
    parser.add_argument("--output", required=True, help="the prep output dir")
    parser.add_argument("--stage", required=True, choices=STAGES)
    parser.add_argument("--group-size", type=int, default=1)
    parser.add_argument("--array-index", type=int, default=None, help="default: $SLURM_ARRAY_TASK_ID")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    index = args.array_index
    if index is None:
        env = os.environ.get("SLURM_ARRAY_TASK_ID")
        if env is None:
            parser.error("no --array-index and SLURM_ARRAY_TASK_ID is not set")
        index = int(env)
    workdir = Workdir(args.output)
    total = stage_size(workdir, args.stage)
    first, last = index * args.group_size, min((index + 1) * args.group_size, total)
    for i in range(first, last):
        res = run_task(args.output, Task(args.stage, i))
        log.info(
            "%s task %d %s (%.2f s)", args.stage, i, "already done" if res.skipped else "done", res.seconds
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
