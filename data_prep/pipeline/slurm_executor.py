"""Slurm executor: one job-array task per group of shards, at most `array_limit` running at once.

`render_sbatch` is a pure function (snapshot-tested). The array task runs
`python -m data_prep.pipeline.array_task`, which reads `SLURM_ARRAY_TASK_ID`, so the same script
can be submitted by the project's Slurm layer unchanged. Until a `submit` callable is given
(`submit(script_path) -> None`, blocking until the array finished), each array task is run here,
one after the other, by executing the rendered script with `SLURM_ARRAY_TASK_ID` set.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from data_prep.config import SlurmSection
from data_prep.pipeline.executor import Executor, OnResult, TaskFailed
from data_prep.pipeline.state import Workdir
from data_prep.pipeline.tasks import Task, TaskResult
from llm_train.errors import ConfigError, ConfigProblem
from llm_train.utils.atomic import atomic_write_text

log = logging.getLogger(__name__)

_OPTION = re.compile(r"^--[a-z][a-z0-9-]*(=\S.*)?$")
# Options the executor sets itself; giving them in `extra` would silently fight it.
_RESERVED = ("--array", "--job-name", "--output", "--error", "--ntasks", "--cpus-per-task", "--mem", "--time")


@dataclass(frozen=True)
class ArraySpec:
    job_name: str
    output: str  # the prep output dir (the array task finds its plan there)
    stage: str
    groups: tuple[int, ...]  # array indices to run; group g covers tasks [g*size, (g+1)*size)
    group_size: int
    log_dir: str
    python: str
    slurm: SlurmSection


def array_ranges(indices: tuple[int, ...] | list[int]) -> str:
    """[0,1,2,5,7,8] -> '0-2,5,7-8' (Slurm's --array syntax)."""
    parts: list[str] = []
    ordered = sorted(set(indices))
    start = prev = None
    for i in [*ordered, None]:
        if start is not None and (i is None or i != prev + 1):
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if i is not None and start is None:
            start = i
        prev = i
    return ",".join(parts)


def render_sbatch(spec: ArraySpec) -> str:
    s = spec.slurm
    for option in s.extra:
        if not _OPTION.match(option) or option.split("=")[0] in _RESERVED:
            raise ConfigError(
                [
                    ConfigProblem(
                        None,
                        "executor.slurm.extra",
                        f"expected '--option[=value]' not among {', '.join(_RESERVED)}",
                        option,
                    )
                ]
            )
    if not spec.groups:
        raise ValueError("an array needs at least one task")
    directives = [
        f"--job-name={spec.job_name}",
        f"--array={array_ranges(spec.groups)}%{s.array_limit}",
        "--ntasks=1",
        f"--cpus-per-task={s.cpus_per_task}",
        f"--mem={s.mem}",
        f"--time={s.time}",
        f"--output={spec.log_dir}/%x-%A_%a.out",
    ]
    directives += [
        f"--{key}={value}"
        for key, value in (("partition", s.partition), ("account", s.account), ("qos", s.qos))
        if value
    ]
    directives += list(s.extra)
    command = [
        spec.python,
        "-m",
        "data_prep.pipeline.array_task",
        "--output",
        spec.output,
        "--stage",
        spec.stage,
        "--group-size",
        str(spec.group_size),
    ]
    lines = ["#!/bin/bash", *(f"#SBATCH {d}" for d in directives), "", "set -euo pipefail"]
    lines += list(s.setup)
    lines += [
        f"export OMP_NUM_THREADS={s.cpus_per_task}",
        f"exec {shlex.join(command)}",
        "",
    ]
    return "\n".join(lines)


class SlurmExecutor(Executor):
    def __init__(
        self, slurm: SlurmSection, job_name: str = "prep", submit: Callable[[Path], None] | None = None
    ):
        self.slurm = slurm
        self.job_name = job_name
        self.submit = submit

    def run(self, output: str, tasks: list[Task], on_result: OnResult | None = None) -> list[TaskResult]:
        if not tasks:
            return []
        workdir = Workdir(output)
        stage = tasks[0].stage
        size = self.slurm.shards_per_task
        spec = ArraySpec(
            job_name=f"{self.job_name}-{stage}",
            output=str(Path(output).resolve()),
            stage=stage,
            groups=tuple(sorted({t.index // size for t in tasks})),
            group_size=size,
            log_dir=str(workdir.slurm_dir().resolve() / "logs"),
            python=self.slurm.python if self.slurm.python != "python" else sys.executable,
            slurm=self.slurm,
        )
        script = workdir.slurm_dir() / f"{stage}.sbatch"
        atomic_write_text(script, render_sbatch(spec))
        Path(spec.log_dir).mkdir(parents=True, exist_ok=True)
        if self.submit is not None:
            self.submit(script)
        else:
            log.info("no Slurm layer given: running %d array task(s) of %s locally", len(spec.groups), script)
            for group in spec.groups:
                self._run_locally(script, spec, group)
        results = []
        for task in tasks:
            if not workdir.is_done(task.stage, task.index):
                raise TaskFailed(f"{stage} task {task.index} did not finish; see logs in {spec.log_dir}")
            res = TaskResult(task, workdir.result(task.stage, task.index), 0.0, skipped=False)
            results.append(res)
            if on_result:
                on_result(res)
        return results

    def _run_locally(self, script: Path, spec: ArraySpec, group: int) -> None:
        env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(group), SLURM_ARRAY_JOB_ID="local")
        log_path = Path(spec.log_dir) / f"{spec.job_name}-local_{group}.out"
        with open(log_path, "wb") as log_file:
            proc = subprocess.run(["bash", str(script)], env=env, stdout=log_file, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise TaskFailed(f"array task {group} of {script} exited with {proc.returncode}:\n{tail}")
