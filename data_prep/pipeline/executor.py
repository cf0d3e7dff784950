"""Executors run tasks; they know nothing of what a task does (see `tasks.run_task`).

`LocalExecutor(workers)`: a process pool over tasks (workers=1 runs in this process). Workers are
spawned, not forked, so they never inherit the parent's threads (progress display) or locks.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from functools import partial

from data_prep.pipeline.tasks import Task, TaskResult, run_task
from llm_train.errors import LLMTrainError

log = logging.getLogger(__name__)

OnResult = Callable[[TaskResult], None]


class TaskFailed(LLMTrainError):
    """A task raised: a bug or an environment problem, not bad input (that is counted and skipped)."""


class Executor:
    def run(self, output: str, tasks: list[Task], on_result: OnResult | None = None) -> list[TaskResult]:
        raise NotImplementedError


class LocalExecutor(Executor):
    def __init__(self, workers: int = 1):
        self.workers = max(1, workers)

    def run(self, output: str, tasks: list[Task], on_result: OnResult | None = None) -> list[TaskResult]:
        results: list[TaskResult] = []
        if not tasks:
            return results
        if self.workers == 1 or len(tasks) == 1:
            for task in tasks:
                try:
                    res = run_task(output, task)
                except LLMTrainError:
                    raise
                except Exception as exc:
                    raise TaskFailed(
                        f"{task.stage} task {task.index} failed: {type(exc).__name__}: {exc}"
                    ) from exc
                results.append(res)
                if on_result:
                    on_result(res)
            return results
        ctx = multiprocessing.get_context("spawn")
        level = logging.getLogger().level
        with ctx.Pool(min(self.workers, len(tasks)), initializer=_init_worker, initargs=(level,)) as pool:
            try:
                for res in pool.imap_unordered(partial(_run_in_worker, output), tasks):
                    results.append(res)
                    if on_result:
                        on_result(res)
            except BaseException:
                pool.terminate()
                raise
        return results


def _init_worker(level: int) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )


def _run_in_worker(output: str, task: Task) -> TaskResult:
    try:
        return run_task(output, task)
    except LLMTrainError:
        raise
    except Exception as exc:
        # Exceptions must pickle back to the parent; keep the message, drop unpicklable state.
        import traceback

        detail = traceback.format_exc(limit=8)
        raise TaskFailed(
            f"{task.stage} task {task.index} failed: {type(exc).__name__}: {exc}\n{detail}"
        ) from None
