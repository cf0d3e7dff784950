"""Eval jobs on Slurm through the project's Slurm layer (`llm_train.slurm`): one job per checkpoint,
or one job array for a backfill of several.

The job is a `Job` of kind "eval" built from the run's config with a cluster profile (site
partitions, accounts, modules, containers, GPU syntax all come from there). It is a Python-function
job: submitit runs `llm-train eval run RUN_DIR --step N` in each task (`map_array` over the steps
for a backfill) with the settings file the watcher wrote, so it appends the same record an
in-process evaluation would; the script submitit submitted stays in RUN_DIR/slurm/eval/<id>/.
"""

from __future__ import annotations

from pathlib import Path

from llm_train.slurm.build import SubmitOptions, build_job
from llm_train.slurm.job import Job, JobArray


def eval_argv(run_dir: Path, step: int, settings_file: Path) -> list[str]:
    # Jobs never write Aim themselves (many jobs on one repo is what the tracking contract forbids):
    # the watcher logs their records on its next pass.
    return ["eval", "run", str(run_dir), "--step", str(step), "--settings", str(settings_file), "--no-track"]


def eval_job(
    resolved,
    run_dir: Path,
    steps: list[int],
    settings_file: Path,
    opts: SubmitOptions,
    exe: str = "llm-train",
    workdir: Path | None = None,
) -> Job:
    """Pure: the Job for `steps` (an array of len(steps) tasks when there are several)."""
    array = JobArray(len(steps)) if len(steps) > 1 else None
    command = [exe, *eval_argv(run_dir, steps[0], settings_file)]
    return build_job(resolved, "eval", command, run_dir, opts, workdir, array=array)


def site_for(run_dir: Path, cluster: str | None):
    """The run's own cluster profile, or the one named: an evaluation does not need the run's
    parallel layout to fit that cluster, only its partitions, accounts and software."""
    from llm_train.config import load_config
    from llm_train.slurm.profile import Site, load_site

    resolved = load_config(Path(run_dir) / "config.yaml")
    if cluster is None:
        return Site.of(resolved)
    return load_site(cluster, resolved.config.name, owner="experiment")


def submit(
    run_dir: Path,
    steps: list[int],
    settings_file: Path,
    cluster: str | None,
    opts: SubmitOptions = SubmitOptions(),
) -> str:
    """Build and submit; returns the Slurm job id (of the array for several steps)."""
    from llm_train.slurm import functions

    run_dir = Path(run_dir).resolve()
    settings_file = Path(settings_file).resolve()
    job = eval_job(site_for(run_dir, cluster), run_dir, steps, settings_file, opts)
    call = functions.Recorded(str(run_dir), "eval", functions.run_cli)
    argvs = [eval_argv(run_dir, step, settings_file) for step in steps]
    jobs = (
        functions.map_array(job, call, argvs)
        if len(steps) > 1
        else [functions.submit(job, call, (argvs[0],))]
    )
    return jobs[0].job_id.split("_")[0]


def ended_jobs(job_ids: list[str]) -> dict[str, str]:
    """{job id: final state} for the jobs among `job_ids` that Slurm reports as over, from
    submitit's sacct watcher (a pending array's `<id>_[0-3]` range counts for each of its tasks).
    A job Slurm does not know at all is not reported (it may be too new for accounting); the caller
    decides how long to wait for those."""
    from llm_train.slurm.handle import slurm_states

    return {job: state for job, (state, ended) in slurm_states(job_ids).items() if ended}
