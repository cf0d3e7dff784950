"""`llm-train eval watch RUN_DIR`: evaluate every checkpoint that gets a ready marker, exactly once.

Exactly once per (checkpoint, suite): a step is done when results.jsonl holds a record for it (a
result, or a failure that only `--retry-failed` retries). In Slurm mode a submitted step is
remembered in evals/<suite>.submitted.json until its job writes the record; a job that ends
without writing one gets a failure record, so nothing waits forever. Only one watcher per run dir
and suite runs at a time (an flock), so two watchers cannot both evaluate a step.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from evals import checkpoints as ck
from evals.errors import EvalError
from evals.results import append_record, latest_by_step, read_records, results_path
from evals.runner import base_record, evaluate_checkpoint, summary_lines
from evals.settings import EvalSettings
from llm_train.run_dir import RunDir
from llm_train.utils.atomic import atomic_write_json

log = logging.getLogger(__name__)
SUBMITTED = "submitted.json"


@dataclass
class PassReport:
    evaluated: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    submitted: dict[int, str] = field(default_factory=dict)
    waiting: list[int] = field(default_factory=list)
    done: int = 0

    def line(self) -> str:
        return (
            f"watch: {len(self.evaluated)} evaluated, {len(self.failed)} failed, {len(self.submitted)} submitted, "
            f"{self.done} already done, {len(self.waiting)} incomplete"
        )


class Watcher:
    def __init__(
        self,
        run_dir: Path,
        settings: EvalSettings,
        cfg=None,
        slurm: bool = False,
        retry_failed: bool = False,
        track: bool = True,
        echo=print,
        cluster: str | None = None,
        submit_options=None,
    ):
        self.run_dir = Path(run_dir)
        self.settings, self.cfg = settings, cfg
        self.slurm, self.retry_failed = slurm, retry_failed
        # Slurm mode: the cluster profile (None: the run's own) and SubmitOptions of llm_train.slurm.
        self.cluster = cluster
        self.submit_options = submit_options
        if slurm and submit_options is None:
            from llm_train.slurm.build import SubmitOptions

            self.submit_options = SubmitOptions()
        self.track, self.echo = track, echo
        self._stop = threading.Event()  # set by SIGINT/SIGTERM during `watch`
        self.results = results_path(self.run_dir)
        self._reported: set[str] = set()

    # -- one pass -----------------------------------------------------------------------------
    def todo(self) -> tuple[list[int], PassReport]:
        report = PassReport()
        scan = ck.scan(self.run_dir)
        report.waiting = scan.partial
        for problem in scan.problems():
            if problem not in self._reported:  # a save in progress shows up on many passes: say it once
                self._reported.add(problem)
                log.warning("%s: %s", self.run_dir, problem)
        latest = latest_by_step(read_records(self.results), self.settings.suite)
        submitted = self._submitted()
        steps = []
        for step in scan.ready:
            record = latest.get(step)
            if record is not None and not (self.retry_failed and record["kind"] == "failure"):
                report.done += 1
            elif str(step) in submitted and (record is None or record["time"] < submitted[str(step)]["time"]):
                report.done += 1  # a job is on it
            else:
                steps.append(step)
        return steps, report

    def run_once(self) -> PassReport:
        with self._lock():
            if self.slurm:
                self._reap_lost_jobs()
            steps, report = self.todo()
            if steps and self.slurm:
                report.submitted = self._submit(steps)
            for step in [] if self.slurm else steps:
                if self._stop.is_set():
                    break  # a signal: leave the rest for the next watcher
                record = evaluate_checkpoint(ck.ref_for_step(self.run_dir, step), self.settings, self.cfg)
                self._store(record)
                (report.evaluated if record["kind"] == "result" else report.failed).append(step)
            if self.track:
                from evals.tracking import sync_pending

                sync_pending(self.run_dir, read_records(self.results), self.cfg)
        return report

    def _store(self, record: dict) -> None:
        append_record(self.results, record)
        for line in summary_lines(record):
            self.echo(line)
        if self.track and record["kind"] == "result":
            from evals.tracking import log_record

            log_record(self.run_dir, record, self.cfg)

    def watch(self, interval: float = 60.0, once: bool = False, max_passes: int | None = None) -> int:
        """Pass after pass until `once`, `max_passes`, or SIGINT/SIGTERM.

        The first signal stops the watcher after the checkpoint it is evaluating (a second one
        interrupts at once). A flag, not KeyboardInterrupt: an exception raised while Python runs a
        finalizer is printed and dropped, and the watcher would go on forever.
        """
        stop = self._stop
        previous = {}

        def request_stop(signum, frame):
            if stop.is_set():
                raise KeyboardInterrupt
            stop.set()
            log.info("watch: signal %d, stopping after the current checkpoint", signum)

        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            passes = 0
            while True:
                report = self.run_once()
                self.echo(report.line())
                passes += 1
                if once or (max_passes and passes >= max_passes):
                    return 1 if report.failed else 0
                if stop.wait(interval):
                    return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # -- Slurm ------------------------------------------------------------------------------
    def settings_file(self) -> Path:
        path = self.run_dir / "evals" / "suites" / f"{self.settings.suite}.json"
        atomic_write_json(path, self.settings.to_json())
        return path

    def _submit(self, steps: list[int]) -> dict[int, str]:
        from evals.slurm import submit

        # A backfill of several checkpoints is one job array: one queue entry, one task per step.
        job = submit(self.run_dir, steps, self.settings_file(), self.cluster, self.submit_options)
        state = self._submitted()
        now = time.time()
        for i, step in enumerate(steps):
            state[str(step)] = {"job": job if len(steps) == 1 else f"{job}_{i}", "time": now}
        atomic_write_json(self._submitted_path(), state)
        self.echo(f"submitted eval job {job} for step(s) {', '.join(map(str, steps))}")
        return {step: state[str(step)]["job"] for step in steps}

    def _reap_lost_jobs(self) -> None:
        """A job that ended without writing a record (killed, node failure) gets a failure record."""
        from evals.slurm import ended_jobs

        state = self._submitted()
        if not state:
            return
        # Slurm first, records second: a job that wrote its record and then ended is never "lost".
        ended = ended_jobs(sorted({e["job"] for e in state.values()}))
        latest = latest_by_step(read_records(self.results), self.settings.suite)
        for step, entry in sorted(state.items()):
            record = latest.get(int(step))
            if record is not None and record["time"] >= entry["time"]:
                continue
            if entry["job"] in ended:
                ref = ck.CheckpointRef(RunDir(self.run_dir).step_dir(int(step)), int(step), self.run_dir)
                failure = base_record(ref, self.settings, self.cfg)
                failure.update(
                    kind="failure",
                    error=f"Slurm job {entry['job']} ended ({ended[entry['job']]}) without a result",
                )
                self._store(failure)

    def _submitted_path(self) -> Path:
        return self.run_dir / "evals" / f"{self.settings.suite}.{SUBMITTED}"

    def _submitted(self) -> dict:
        try:
            return json.loads(self._submitted_path().read_text())
        except (OSError, ValueError):
            return {}

    @contextlib.contextmanager
    def _lock(self):
        path = self.run_dir / "evals" / f".watch-{self.settings.suite}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise EvalError(
                    f"another `eval watch` is running on {self.run_dir} (suite {self.settings.suite})"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
