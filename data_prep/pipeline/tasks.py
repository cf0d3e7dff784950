"""The unit of work executors run: `(stage, index)` against a workdir.

`run_task` is all a worker process (a local pool worker or a Slurm array task) needs: it loads
the plan from the workdir, skips the task if its done marker exists, runs it and writes the
marker. Built steps are cached per process, since models (language ID) are slow to load.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from data_prep.pipeline.registry import build_steps
from data_prep.pipeline.stage_dedup import dedup_language
from data_prep.pipeline.stage_shard import process_shard
from data_prep.pipeline.stage_write import write_shard
from data_prep.pipeline.state import STAGES, Plan, Workdir
from data_prep.pipeline.step import PipelineStep
from llm_train.errors import LLMTrainError

log = logging.getLogger(__name__)

_cache: dict[tuple[str, str], tuple[Plan, list[PipelineStep]]] = {}


@dataclass(frozen=True)
class Task:
    stage: str
    index: int

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise LLMTrainError(f"unknown prep stage {self.stage!r}; known: {', '.join(STAGES)}")


@dataclass
class TaskResult:
    task: Task
    result: dict[str, Any]
    seconds: float
    skipped: bool


def _plan_and_steps(workdir: Workdir, need_steps: bool) -> tuple[Plan, list[PipelineStep]]:
    plan = Plan.load(workdir)
    if not need_steps:
        return plan, []
    key = (str(workdir.root.resolve()), plan.sha256)
    if key not in _cache:
        _cache.clear()
        _cache[key] = (plan, build_steps(plan.config.enabled_steps(), plan.config.plugins))
    return _cache[key]


def run_task(output: str, task: Task) -> TaskResult:
    workdir = Workdir(output)
    if workdir.is_done(task.stage, task.index):
        return TaskResult(task, workdir.result(task.stage, task.index), 0.0, skipped=True)
    start = time.perf_counter()
    plan, steps = _plan_and_steps(workdir, need_steps=task.stage == "shard")
    if task.stage == "shard":
        result = process_shard(plan, workdir, task.index, steps)
    elif task.stage == "dedup":
        result = dedup_language(plan, workdir, task.index)
    else:
        result = write_shard(plan, workdir, task.index)
    workdir.mark_done(task.stage, task.index, result)
    seconds = time.perf_counter() - start
    log.debug("%s %d done in %.2f s", task.stage, task.index, seconds)
    return TaskResult(task, result, seconds, skipped=False)
