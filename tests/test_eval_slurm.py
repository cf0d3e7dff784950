"""The watcher's Slurm mode: eval jobs built by the project's Slurm layer as submitit function jobs,
and real submissions to the local Slurm cluster: one job array for a backfill, each checkpoint
evaluated once, a job that ends without a result recorded as a failure."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from evals.results import read_records
from evals.runner import with_generated_tasks
from evals.settings import load_run_config, settings_from_config
from evals.slurm import eval_job
from evals.watcher import Watcher
from llm_train.config import load_config
from llm_train.errors import ConfigError
from llm_train.slurm import events
from llm_train.slurm.build import SubmitOptions
from llm_train.slurm.job import JobArray
from llm_train.slurm.render import render
from tests.test_eval_support import REPO, tiny_spec, world, write_checkpoint

DATA = Path(__file__).parent / "data" / "eval"


def test_eval_job_is_built_by_the_slurm_layer():
    resolved = load_config(REPO / "configs/experiments/demo-cpu.yaml", cluster="local-slurm")
    settings = Path("/runs/demo-cpu/r1/evals/suites/default.json")
    job = eval_job(
        resolved,
        Path("/runs/demo-cpu/r1"),
        [100, 200, 300],
        settings,
        SubmitOptions(time="00:30:00"),
        "llm-train",
        Path("/srv/project"),
    )
    assert (job.kind, job.name, job.array, job.resources.time) == (
        "eval",
        "demo-cpu-eval",
        JobArray(3),
        "00:30:00",
    )
    assert job.command == (
        "llm-train",
        "eval",
        "run",
        "/runs/demo-cpu/r1",
        "--step",
        "100",
        "--settings",
        str(settings),
        "--no-track",
    )
    text = render(job)  # submitit's script, with the profile's environment and this array
    assert (
        "#SBATCH --array=0-2%3" in text and "-m submitit.core._submit /runs/demo-cpu/r1/slurm/eval/%j" in text
    )
    assert "export GLOO_SOCKET_IFNAME=lo" in text and "#SBATCH --partition=debug" in text
    single = eval_job(resolved, Path("/runs/demo-cpu/r1"), [100], settings, SubmitOptions(), "llm-train")
    assert single.array is None and single.command[4:6] == ("--step", "100")
    with pytest.raises(ConfigError, match="partition"):
        eval_job(resolved, Path("/r"), [1], settings, SubmitOptions(partition="nope"), "llm-train")


@pytest.mark.slurm
@pytest.mark.slow
def test_watcher_backfills_with_a_job_array_then_one_job_per_new_checkpoint(slurm_cluster, tmp_path):
    w = world(tmp_path, steps=(10, 20))
    run_dir = w["run_dir"]
    cfg = load_run_config(run_dir)
    settings = with_generated_tasks(
        settings_from_config(cfg, max_docs_per_language=2, languages=["de"]), run_dir
    )
    lines: list[str] = []
    watcher = Watcher(
        run_dir,
        settings,
        cfg,
        slurm=True,
        cluster="local-slurm",
        echo=lines.append,
        submit_options=SubmitOptions(time="00:10:00"),
    )

    report = watcher.run_once()
    assert sorted(report.submitted) == [10, 20]
    job = report.submitted[10].split("_")[0]
    assert report.submitted[20] == f"{job}_1"
    assert watcher.run_once().submitted == {}  # queued or running: not submitted again
    assert slurm_cluster.wait(job, timeout=300) == "COMPLETED"

    write_checkpoint(run_dir, 30, tiny_spec())
    report = watcher.run_once()
    assert list(report.submitted) == [30] and "_" not in report.submitted[30]
    assert slurm_cluster.wait(report.submitted[30], timeout=300) == "COMPLETED"
    time.sleep(1)
    watcher.run_once()  # logs the jobs' records to Aim, submits nothing
    records = read_records(run_dir / "evals" / "results.jsonl")
    assert sorted(r["step"] for r in records) == [10, 20, 30]
    assert all(r["kind"] == "result" for r in records), [r.get("error") for r in records]
    # submitit keeps every submitted script in the run dir: the backfill array, then the single job.
    scripts = sorted(
        (run_dir / "slurm" / "eval").glob("*/*_submission.sh"), key=lambda p: int(p.name.split("_")[0])
    )
    assert len(scripts) == 2 and "#SBATCH --array=0-1%2" in scripts[0].read_text()
    assert [e["event"] for e in events.read(run_dir) if e["kind"] == "eval"].count("finished") == 3
    logged = json.loads((run_dir / "evals" / "aim_logged.json").read_text())
    assert sorted(logged) == sorted(r["id"] for r in records)


@pytest.mark.slurm
def test_a_job_that_ends_without_a_result_gets_a_failure_record(slurm_cluster, tmp_path):
    w = world(tmp_path, steps=(10,))
    run_dir = w["run_dir"]
    cfg = load_run_config(run_dir)
    settings = settings_from_config(cfg, tasks=[], max_docs_per_language=1)
    later = SubmitOptions(time="00:10:00", sbatch=("--begin=now+600",))  # stays pending until cancelled
    watcher = Watcher(
        run_dir, settings, cfg, slurm=True, cluster="local-slurm", echo=lambda _: None, submit_options=later
    )
    job = watcher.run_once().submitted[10]
    slurm_cluster.run("scancel", job)
    assert slurm_cluster.wait(job, timeout=60) == "CANCELLED"
    report = watcher.run_once()
    assert report.submitted == {}
    [record] = read_records(run_dir / "evals" / "results.jsonl")
    assert record["kind"] == "failure" and "ended (CANCELLED) without a result" in record["error"]
    assert watcher.run_once().submitted == {}  # a failure is final until --retry-failed
