"""`llm-train prep --executor slurm --cluster local-slurm` on the real local Slurm: every stage is a
job array built from the profile; every task sees the profile's environment; a killed task fails
the stage with its log path, and the rerun submits that task alone; the corpus is byte for byte the
local executor's."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from data_prep.cli.prep import main as prep_main
from data_prep.pipeline.executor import TaskFailed
from llm_train.slurm import events
from tests.prep_support import PROBED_ENV, REPO, TEST_CONFIG, make_corpus, tree_bytes

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
# The profile's software.env and the layer's defaults, as local-slurm renders them (1 CPU per task).
PROFILE_ENV = {
    "GLOO_SOCKET_IFNAME": "lo",
    "MKL_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_DATASETS_OFFLINE": "1",
    "OMP_NUM_THREADS": "1",
    "PYTHONUNBUFFERED": "1",
}
SLURM = [
    "executor.slurm.cpus_per_task=1",
    "executor.slurm.mem=500M",
    "executor.slurm.time=00:10:00",
    "executor.slurm.array_limit=4",
    "executor.slurm.poll_s=2",
]


def prep(tmp_path: Path, output: Path, *extra: str) -> int:
    return prep_main(
        [
            "--input", str(tmp_path / "in" / "*.jsonl.gz"), "--output", str(output),
            "--config", str(tmp_path / "prep.yaml"), "--no-progress", *extra,
        ]
    )  # fmt: skip


def array_submissions(output: Path) -> list[dict]:
    return [
        e for e in events.read(output / ".prep") if e["event"] == "submitted" and e["kind"] == "prep-array"
    ]


def test_prep_arrays_on_slurm_rerun_only_the_killed_task(slurm_cluster, tmp_path, monkeypatch):
    # Array tasks are separate processes: they import the test steps from the repo. The profile's
    # variables are removed here, so a task can only have them from the profile.
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    for name in PROBED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    make_corpus(tmp_path / "in", shards=3, per_shard=6)
    probe = tmp_path / "probe"
    (tmp_path / "prep.yaml").write_text(
        TEST_CONFIG.replace(
            "steps:\n",
            f"steps:\n  test_env_probe: {{dir: {probe}}}\n  test_sleep: {{seconds_per_doc: 0.6}}\n",
        )
    )
    out = tmp_path / "slurm"
    slurm = ["--executor", "slurm", "--cluster", "local-slurm", *SLURM]

    failure: list[BaseException] = []

    def first_run():
        try:
            prep(tmp_path, out, *slurm)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            failure.append(exc)

    thread = threading.Thread(target=first_run)
    thread.start()
    deadline = time.monotonic() + 120
    while (
        not array_submissions(out)
        or slurm_cluster.controller_states(array_id := array_submissions(out)[0]["job_id"]).get(
            f"{array_id}_1"
        )
        != "RUNNING"
    ):
        assert time.monotonic() < deadline and thread.is_alive(), f"array task 1 never ran: {failure}"
        time.sleep(0.3)
    first = array_submissions(out)[0]
    assert first["tasks"] == 3 and first["executor"] == "slurm"
    slurm_cluster.run("scancel", f"{array_id}_1")
    thread.join(timeout=240)
    assert not thread.is_alive()
    assert failure and isinstance(failure[0], TaskFailed), failure
    report = str(failure[0])
    assert f"shard task(s) 1: job {array_id}_1 CANCELLED" in report, report
    log = Path(report.split("; log ")[1].split()[0])
    assert log.is_file() and log.name == f"{array_id}_1_0_log.out"
    assert slurm_cluster.wait(array_id, timeout=60) == "CANCELLED,COMPLETED"
    assert "#SBATCH --array=0-2%3" in Path(first["script"]).read_text()

    assert prep(tmp_path, out, *slurm) == 0
    rerun = array_submissions(out)[1]
    assert rerun["tasks"] == 1, "only the killed task is submitted again"
    # One group left is one plain job (submitit submits a single call without --array).
    assert slurm_cluster.accounting_states(rerun["job_id"]) == {rerun["job_id"]: "COMPLETED"}
    assert "#SBATCH --array" not in Path(rerun["script"]).read_text()
    # The later stages ran as arrays too: dedup per language, write per shard.
    assert len(array_submissions(out)) == 4

    seen = [json.loads(p.read_text()) for p in sorted(probe.glob("*.json"))]
    on_slurm = [r for r in seen if r["job"]]
    # Shard tasks 0 and 2 of the first array (1 may have been killed before it got here), the rerun.
    assert {r["array_task"] for r in on_slurm if r["array_job"] == array_id} >= {"0", "2"}
    assert any(r["job"] == rerun["job_id"] for r in on_slurm)
    assert {r["host"] for r in on_slurm} <= {"n1", "n2"}
    for record in on_slurm:
        assert record["env"] == PROFILE_ENV, record

    local = tmp_path / "local"
    assert prep(tmp_path, local, "--workers", "2") == 0
    assert tree_bytes(out) == tree_bytes(local)
    assert (out / "README.md").read_text() == (local / "README.md").read_text()


def test_a_prep_task_at_its_time_limit_is_requeued_and_resumes(slurm_cluster, tmp_path, monkeypatch):
    """submitit's Checkpointable: the time-limit signal (USR2, sent by hand here) makes the task
    requeue itself; the requeued task skips the shard it finished and the same prep run completes."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    make_corpus(tmp_path / "in", shards=2, per_shard=6)
    (tmp_path / "prep.yaml").write_text(
        TEST_CONFIG.replace("steps:\n", "steps:\n  test_sleep: {seconds_per_doc: 0.5}\n")
    )
    out = tmp_path / "slurm"
    done: list[int] = []
    thread = threading.Thread(
        target=lambda: done.append(
            prep(
                tmp_path,
                out,
                "--executor",
                "slurm",
                "--cluster",
                "local-slurm",
                "executor.slurm.shards_per_task=2",
                *SLURM,
            )
        )
    )
    thread.start()
    first_shard = out / ".prep" / "shards" / "shard-00000.done.json"
    deadline = time.monotonic() + 120
    while not first_shard.exists():
        assert time.monotonic() < deadline and thread.is_alive(), "the first shard never finished"
        time.sleep(0.2)
    job_id = array_submissions(out)[0]["job_id"]  # one group of two shards: a plain job
    slurm_cluster.run("scancel", "--signal=USR2", job_id)
    thread.join(timeout=300)
    assert done == [0], "the same prep run completes after the requeue"
    attempts = slurm_cluster.run("sacct", "-n", "-X", "-D", "-P", "-j", job_id, "-o", "State").stdout.split()
    assert attempts == ["REQUEUED", "COMPLETED"]
    shard_events = [e["event"] for e in events.read(out / ".prep") if e.get("job_id") == job_id]
    assert shard_events == ["submitted", "started", "requeued", "interrupted", "started", "finished"], (
        shard_events
    )
    log = next((out / ".prep" / "slurm" / "prep-array").glob(f"{job_id}/{job_id}_0_log.out")).read_text()
    assert "shard task 0 already done" in log  # the requeued task went on where it stopped
