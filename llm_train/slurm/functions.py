"""Python-function jobs through submitit: prep array tasks, evaluations, the per-node burn-in.

submitit pickles the function and its arguments into the job's folder, writes the sbatch script
with its own pure function, submits it (`map_array` makes one job array with
`--array=0-N%parallelism`), reads the job's state from sacct, returns results and exceptions, and
requeues a timed-out `Checkpointable`. This module only maps a `Job` (built from the cluster
profile like every other kind) onto submitit's parameters: a function job gets the same partition,
account, QoS, modules, setup lines, exports and container as the training script.

Folders: `<run_dir>/slurm/<kind>/<job id>/` holds the submitted script (`<id>_submission.sh`),
the log of each task (`<id>_<task>_log.out`), the pickles and the result. The same code path runs
locally with submitit's LocalExecutor (`local=True`): subprocesses instead of Slurm jobs.
"""

from __future__ import annotations

import logging
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import submitit
from submitit.slurm.slurm import _make_sbatch_string

from llm_train.slurm import events
from llm_train.slurm.job import Job
from llm_train.slurm.options import as_parameters
from llm_train.slurm.render import container_prefix, software_lines
from llm_train.slurm.sbatch import SlurmError
from llm_train.slurm.timefmt import parse_time

log = logging.getLogger(__name__)

# Local runs have no scheduler limit; submitit's default (2 minutes) would kill real work.
LOCAL_TIMEOUT_MIN = 7 * 24 * 60


def folder(job: Job) -> Path:
    """submitit's folder pattern: one sub-folder per job id (array tasks: `<id>_<task>`)."""
    return Path(job.run_dir) / "slurm" / job.kind / "%j"


def python_command(job: Job, python: str | None = None) -> str:
    """This installation's python (same filesystem on login and compute nodes); in a container the
    image's own, started by the container runtime."""
    c = job.software.container
    if c.runtime in ("apptainer", "singularity"):
        return f"{shlex.join(container_prefix(job.software))} python3"
    if c.runtime == "enroot":
        return "python3"  # pyxis: srun itself starts the container (srun_args below)
    return shlex.quote(python or sys.executable)


def slurm_parameters(job: Job) -> dict[str, Any]:
    """submitit SlurmExecutor parameters of `job`: the same header values as a script job."""
    r = job.resources
    seconds = parse_time(r.time)
    params: dict[str, Any] = {
        "job_name": job.name,
        "time": max(1, (seconds or 0) // 60),
        "nodes": r.nodes,
        "ntasks_per_node": r.ntasks_per_node,
        "partition": r.partition,
        "account": r.account,
        "qos": r.qos,
        "cpus_per_task": r.cpus_per_task,
        "mem": r.mem,
        "constraint": r.constraint,
        "mail_type": r.mail_type,
        "mail_user": r.mail_user,
        "exclusive": True if r.exclusive else None,
        # What the pickled function does, for a reader of the script; then the job's environment.
        "setup": [f"# {job.description}: {shlex.join(job.command)}", *software_lines(job.software)],
        "signal_delay_s": job.signal_lead_s or 90,
        "stderr_to_stdout": True,  # one log per task: the path a failure report names
        "wckey": None,  # submitit's default wckey would have to exist on sites that enforce them
    }
    if r.gpus_per_node:
        if r.gres:
            params["gres"] = r.gres.format(n=r.gpus_per_node)
        else:
            params["gpus_per_node"] = r.gpus_per_node
    if job.array and job.array.parallelism:
        params["array_parallelism"] = job.array.parallelism
    additional = {"chdir": job.workdir, **as_parameters(r.extra)}
    if r.reservation:
        additional["reservation"] = r.reservation
    params["additional_parameters"] = additional
    c = job.software.container
    if c.runtime == "enroot":
        params["srun_args"] = [
            f"--container-image={c.image}",
            *(["--container-mounts=" + ",".join(c.binds)] if c.binds else []),
            *c.flags,
        ]
    return params


def sbatch_text(job: Job, job_folder: Path | None = None, python: str | None = None) -> str:
    """The exact script submitit submits for `job` (pure: submitit's own sbatch function)."""
    job_folder = job_folder or folder(job)
    command = f"{python_command(job, python)} -u -m submitit.core._submit {shlex.quote(str(job_folder))}"
    map_count = job.array.size if job.array else None
    return _make_sbatch_string(
        command=command, folder=job_folder, map_count=map_count, **slurm_parameters(job)
    )


def executor(job: Job, local: bool = False, dependency: str | None = None) -> submitit.Executor:
    """A submitit executor for `job`: Slurm, or this machine (subprocesses) with `local`."""
    if local:
        ex = submitit.LocalExecutor(folder(job))
        ex.update_parameters(
            timeout_min=LOCAL_TIMEOUT_MIN, tasks_per_node=job.resources.ntasks_per_node, stderr_to_stdout=True
        )
        return ex
    try:
        ex = submitit.SlurmExecutor(folder(job), max_num_timeout=job.max_requeues, python=python_command(job))
    except RuntimeError as exc:  # no srun on PATH
        raise SlurmError(f"{exc} (is this a Slurm login node?)") from None
    params = slurm_parameters(job)
    if dependency:
        params["dependency"] = dependency
        params["additional_parameters"] = {**params["additional_parameters"], "kill-on-invalid-dep": "yes"}
    ex.update_parameters(**params)
    return ex


def submit(
    job: Job,
    fn: Callable[..., Any],
    args: Sequence[Any] = (),
    *,
    local: bool = False,
    dependency: str | None = None,
) -> submitit.Job:
    """One function call as one job (several tasks for a multi-node job)."""
    return _submitted(job, lambda ex: ex.submit(fn, *args), local, dependency)[0]


def map_array(
    job: Job, fn: Callable[..., Any], *iterables: Iterable[Any], local: bool = False
) -> list[submitit.Job]:
    """`fn` over the arguments as one job array (job.array.parallelism tasks at once)."""
    return _submitted(job, lambda ex: ex.map_array(fn, *iterables), local, None)


def _submitted(
    job: Job, call: Callable[[submitit.Executor], Any], local: bool, dependency: str | None
) -> list[submitit.Job]:
    ex = executor(job, local, dependency)
    started = time.time()
    try:
        result = call(ex)
    except submitit.core.utils.FailedJobError as exc:
        raise SlurmError(f"sbatch rejected the {job.kind} job {job.name}: {_slurm_message(exc)}") from None
    jobs = result if isinstance(result, list) else [result]
    for j in jobs:
        _drop_stale_result(j, started)
    job_id = jobs[0].job_id.split("_")[0]
    events.record(
        job.run_dir,
        "submitted",
        kind=job.kind,
        job_id=job_id,
        name=job.name,
        script=str(script_of(job, job_id)),
        tasks=len(jobs),
        executor="local" if local else "slurm",
        sbatch_args=[f"--dependency={dependency}", "--kill-on-invalid-dep=yes"] if dependency else [],
    )
    return jobs


def script_of(job: Job, job_id: str) -> Path:
    """Where submitit keeps the script it submitted (an array's under the array's own id)."""
    return Path(str(folder(job)).replace("%j", job_id)) / f"{job_id}_submission.sh"


def _drop_stale_result(job: submitit.Job, submitted_at: float) -> None:
    """A result pickle older than the submission belongs to an earlier job with the same id (job
    ids restart when a cluster's state is reset); reading it would return another job's result."""
    for path in job.paths.folder.glob("*_result.pkl"):
        if path.stat().st_mtime < submitted_at:
            path.unlink(missing_ok=True)


def _slurm_message(exc: Exception) -> str:
    text = str(exc)
    for marker in ("sbatch: error:", "error:"):
        if marker in text:
            return text[text.index(marker) :].strip().splitlines()[0]
    return text.strip().splitlines()[-1] if text.strip() else type(exc).__name__


class Recorded:
    """The function a job runs, with its transitions in the run's events.jsonl (like a script job's)."""

    def __init__(self, run_dir: str, kind: str, fn: Callable[..., Any]):
        self.run_dir, self.kind, self.fn = run_dir, kind, fn

    def __call__(self, *args: Any) -> Any:
        # The job's log (<id>_<task>_log.out) shows the function's own progress lines.
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        env = submitit.JobEnvironment()
        where = {"kind": self.kind, "job_id": env.job_id, "node": env.hostname}
        if env.num_tasks > 1:
            where["task"] = env.global_rank
        events.record(self.run_dir, "started", **where)
        try:
            result = self.fn(*args)
        except SystemExit as exc:
            # submitit leaves this way after a time-limit or preemption signal (requeued or not).
            events.record(self.run_dir, "interrupted", **where, exit_code=exc.code)
            raise
        except BaseException as exc:
            events.record(self.run_dir, "failed", **where, error=f"{type(exc).__name__}: {exc}"[:500])
            raise
        events.record(self.run_dir, "finished", **where, exit_code=0)
        return result


class RecordedCheckpointable(Recorded, submitit.helpers.Checkpointable):
    """A resumable function (its work is marked done piece by piece): on the time limit or a
    preemption submitit requeues it with the same arguments, and it goes on where it stopped."""

    def checkpoint(self, *args: Any) -> submitit.helpers.DelayedSubmission:
        env = submitit.JobEnvironment()
        events.record(self.run_dir, "requeued", kind=self.kind, job_id=env.job_id, node=env.hostname)
        return super().checkpoint(*args)


# ---- what function jobs run on the node -----------------------------------------------------


def run_cli(argv: Sequence[str]) -> int:
    """`llm-train <argv>` in this (already fresh) job process; a failure fails the job."""
    from llm_train.cli.main import main

    code = main(list(argv))
    if code != 0:
        raise RuntimeError(f"llm-train {' '.join(argv[:2])} exited with code {code}")
    return code


def burn_in_node(argv: Sequence[str]) -> dict[str, Any]:
    """One node's burn-in (`llm-train doctor --burn-in ...`) in a subprocess of its own, so a
    crashed check (a driver fault) is a verdict about the node, not a lost job."""
    import socket
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "llm_train.cli.main", *argv], capture_output=True, text=True, check=False
    )
    return {
        "node": socket.gethostname(),
        "exit_code": proc.returncode,
        "output": (proc.stdout + proc.stderr)[-4000:],
    }


# Single-call function kinds: what `submit_job` runs for them with the job's command.
RUNNERS: dict[str, Callable[[Sequence[str]], Any]] = {"eval": run_cli, "burn-in": burn_in_node}
