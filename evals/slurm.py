"""Eval jobs on Slurm through the project's Slurm layer (`llm_train.slurm`): one job per checkpoint,
or one job array for a backfill of several.

The job is a `Job` of kind "eval" built from the run's config with a cluster profile (site partitions,
accounts, modules, containers, GPU syntax all come from there) and rendered by the layer's pure
`render`; `submit_job` saves the exact script under RUN_DIR/slurm/ and calls sbatch. Each job runs
`llm-train eval run RUN_DIR --step N` (an array task picks its step with `--array-steps`) with the
settings file the watcher wrote, so it appends the same record an in-process evaluation would.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from llm_train.slurm.build import SubmitOptions, build_job
from llm_train.slurm.job import Job


def eval_command(exe: str, run_dir: Path, steps: list[int], settings_file: Path) -> list[str]:
    which = ["--step", str(steps[0])] if len(steps) == 1 else ["--array-steps", ",".join(map(str, steps))]
    # Jobs never write Aim themselves (many jobs on one repo is what the tracking contract forbids):
    # the watcher logs their records on its next pass.
    return [exe, "eval", "run", str(run_dir), *which, "--settings", str(settings_file), "--no-track"]


def eval_job(
    resolved,
    run_dir: Path,
    steps: list[int],
    settings_file: Path,
    opts: SubmitOptions,
    exe: str,
    workdir: Path | None = None,
) -> Job:
    """Pure: the Job for `steps` (an array of len(steps) tasks when there are several)."""
    array = f"0-{len(steps) - 1}" if len(steps) > 1 else None
    name = opts.job_name or f"{resolved.config.name}-eval"
    opts = replace(opts, array=array, job_name=name)
    return build_job(
        resolved, "eval", eval_command(exe, run_dir, steps, settings_file), run_dir, opts, workdir
    )


def load_with_cluster(run_dir: Path, cluster: str | None):
    """The run's resolved config, with another cluster profile when one is named."""
    from llm_train.config import load_config

    return load_config(Path(run_dir) / "config.yaml", cluster=cluster)


def submit(
    run_dir: Path,
    steps: list[int],
    settings_file: Path,
    cluster: str | None,
    opts: SubmitOptions = SubmitOptions(),
) -> str:
    """Build, save and submit; returns the Slurm job id."""
    from llm_train.cli.submit import launcher
    from llm_train.slurm.submit import submit_job

    run_dir = Path(run_dir).resolve()
    resolved = load_with_cluster(run_dir, cluster)
    job = eval_job(resolved, run_dir, steps, Path(settings_file).resolve(), opts, launcher(resolved))
    return submit_job(job).job_id


def ended_jobs(job_ids: list[str]) -> dict[str, str]:
    """{job id: final state} for the jobs among `job_ids` that Slurm reports as over.

    A pending array shows up as one `<id>_[0-3]` entry, not per task: a task without its own entry
    takes the state of its array's entries. A job Slurm does not know at all is not reported (it may
    be too new for accounting); the caller decides how long to wait for those.
    """
    from llm_train.slurm.query import states

    bases = {j.split("_")[0] for j in job_ids}
    records = states(sorted(set(job_ids) | bases))
    out = {}
    for job in job_ids:
        rec = records.get(job)
        if rec is not None:
            if rec.terminal:
                out[job] = rec.state
            continue
        base = job.split("_")[0]
        family = [r for jid, r in records.items() if jid == base or jid.startswith(base + "_[")]
        if family and all(r.terminal for r in family):
            out[job] = family[0].state
    return out
