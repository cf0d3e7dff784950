"""Data-prep job arrays through the Slurm layer: every shard processed by an array task; a killed
task fails the stage, and the rerun submits only that array index."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from data_prep.config import load_prep_config
from data_prep.pipeline.executor import LocalExecutor, TaskFailed
from data_prep.pipeline.runner import run_prep
from data_prep.pipeline.slurm_executor import SlurmExecutor
from llm_train.slurm import events
from llm_train.slurm.prep import ArraySubmitter
from tests.prep_support import REPO, TEST_CONFIG, make_corpus, tree_bytes

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
SLOW_CONFIG = TEST_CONFIG.replace("steps:\n", "steps:\n  test_sleep: {seconds_per_doc: 0.6}\n")
SLURM = [
    "executor.slurm.cpus_per_task=1",
    "executor.slurm.mem=500M",
    "executor.slurm.time=00:10:00",
    "executor.slurm.array_limit=4",
]


def prep(tmp_path: Path, output: Path, executor_for):
    config = tmp_path / "prep.yaml"
    config.write_text(SLOW_CONFIG, encoding="utf-8")
    values = {"input": {"paths": [str(tmp_path / "in" / "*.jsonl.gz")]}, "output": {"dir": str(output)}}
    resolved = load_prep_config(config, SLURM, values)
    return run_prep(resolved, output, executor_for(resolved), show_progress=False)


def test_array_processes_all_shards_and_reruns_only_the_killed_task(slurm_cluster, tmp_path, monkeypatch):
    # The array tasks are separate processes: they import the test steps plugin from the repo.
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    make_corpus(tmp_path / "in", shards=3, per_shard=6)
    out = tmp_path / "slurm"

    first = ArraySubmitter(poll=0.5, timeout=180)
    failure: list[BaseException] = []

    def run_first():
        try:
            prep(tmp_path, out, lambda r: SlurmExecutor(r.config.executor.slurm, "prep", submit=first))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            failure.append(exc)

    thread = threading.Thread(target=run_first)
    thread.start()
    deadline = time.monotonic() + 60
    while (
        not first.handles
        or first.handles[0].states().get(f"{first.handles[0].job_id}_1") is None
        or (first.handles[0].states()[f"{first.handles[0].job_id}_1"].state != "RUNNING")
    ):
        assert time.monotonic() < deadline and thread.is_alive(), f"array task 1 never ran: {failure}"
        time.sleep(0.3)
    array = first.handles[0]
    slurm_cluster.run("scancel", f"{array.job_id}_1")
    thread.join(timeout=180)
    assert failure and isinstance(failure[0], TaskFailed) and "shard task 1" in str(failure[0])
    states = {k: r.state for k, r in array.states().items()}
    assert states == {
        f"{array.job_id}_0": "COMPLETED",
        f"{array.job_id}_1": "CANCELLED",
        f"{array.job_id}_2": "COMPLETED",
    }

    second = ArraySubmitter(poll=0.5, timeout=180)
    prep(tmp_path, out, lambda r: SlurmExecutor(r.config.executor.slurm, "prep", submit=second))
    rerun = second.handles[0]
    assert list(rerun.states()) == [f"{rerun.job_id}_1"], "only the killed task ran again"
    assert "#SBATCH --array=1%4" in (out / ".prep" / "slurm" / "shard.sbatch").read_text()
    logged = [(e["event"], e["job_id"]) for e in events.read(out / ".prep") if e["kind"] == "prep-array"]
    assert ("failed", array.job_id) in logged and ("finished", rerun.job_id) in logged

    local = tmp_path / "local"
    prep(tmp_path, local, lambda r: LocalExecutor(2))
    assert tree_bytes(out) == tree_bytes(local)
