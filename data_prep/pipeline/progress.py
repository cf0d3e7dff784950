"""Progress display of a prep run: one bar per stage, one bar per step (documents through it)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from data_prep.pipeline.tasks import TaskResult


class PrepProgress:
    def __init__(self, enabled: bool = True):
        self.console = Console(file=sys.stderr)
        self.progress = Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not enabled,
        )
        self._stage_bars: dict[str, int] = {}
        self._step_bars: dict[str, int] = {}
        self._docs_read = 0

    def __enter__(self) -> PrepProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def stage(self, name: str, label: str, total: int, done: int) -> None:
        self._stage_bars[name] = self.progress.add_task(label, total=total, completed=done, note="")

    def update(self, res: TaskResult) -> None:
        stage = res.task.stage
        self.progress.advance(self._stage_bars[stage])
        if stage != "shard":
            return
        # Step bars count documents in/out at shard granularity (workers report per shard).
        steps = res.result["steps"]
        self._docs_read += int(steps[0]["counters"].get("docs_in", 0))
        for step in steps:
            name = step["name"]
            if name not in self._step_bars:
                self._step_bars[name] = self.progress.add_task(
                    f"  step {name}", total=None, note="", completed=0
                )
            bar = self._step_bars[name]
            task = self.progress.tasks[self._task_pos(bar)]
            done_in = task.fields.get("docs_in", 0) + int(step["counters"].get("docs_in", 0))
            done_out = task.fields.get("docs_out", 0) + int(step["counters"].get("docs_out", 0))
            self.progress.update(
                bar,
                total=self._docs_read,
                completed=done_in,
                docs_in=done_in,
                docs_out=done_out,
                note=f"kept {done_out:,}",
            )

    def _task_pos(self, task_id: int) -> int:
        return next(i for i, t in enumerate(self.progress.tasks) if t.id == task_id)
