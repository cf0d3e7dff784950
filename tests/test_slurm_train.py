"""The real trainer under the real local Slurm: a 2-node DeepSpeed run (one CPU rank per node, gloo)
matches a local 2-process run step for step, and a run that is signalled mid-way checkpoints,
requeues itself, resumes and ends with the same losses."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from llm_train.cli.main import main as cli
from llm_train.slurm import events
from llm_train.slurm.handle import JobHandle
from llm_train.tracking.jsonl import last_per_step
from tests.helpers.tiny_packed import REPO, make_packed, train_cmd, train_env, write_experiment

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
STEPS = 24


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("slurm-train")
    config = write_experiment(
        root,
        make_packed(root / "data"),
        train={"steps": STEPS},
        checkpoint={"every_steps": 4, "keep_last": 2},
    )
    proc = subprocess.run(
        train_cmd(config, "--nproc", "2", "--run-id", "local"),
        env=train_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    reference = last_per_step(root / "runs" / "t" / "local" / "metrics.jsonl")
    assert sorted(reference) == list(range(1, STEPS + 1))
    return config, root / "runs" / "t", reference


def submit(config: Path, run_id: str, monkeypatch) -> JobHandle:
    # The job inherits this environment (sbatch --export=ALL), as it would from a login shell.
    for key, value in train_env().items():
        monkeypatch.setenv(key, value)
    assert cli(["submit", str(config), "--cluster", "local-slurm", "-t", "10", "--run-id", run_id]) == 0
    run_dir = config.parent / "runs" / "t" / run_id
    (sub,) = events.submitted_jobs(run_dir)
    return JobHandle(sub["job_id"], run_dir, run_dir / "slurm" / sub["script"], "train")


def losses(metrics: dict[int, dict]) -> list[float]:
    return [metrics[s]["loss"] for s in sorted(metrics)]


def log_tail(run_dir: Path) -> str:
    return "\n".join(p.read_text()[-4000:] for p in (run_dir / "slurm").glob("*.out"))


def test_two_node_deepspeed_run_matches_local(slurm_cluster, setup, monkeypatch):
    config, runs, reference = setup
    handle = submit(config, "two-node", monkeypatch)
    assert handle.wait(timeout=300, poll=2) == "COMPLETED", log_tail(handle.run_dir)
    got = last_per_step(handle.run_dir / "metrics.jsonl")
    assert sorted(got) == sorted(reference)
    assert losses(got) == pytest.approx(losses(reference), rel=1e-6, abs=0)
    started = [e for e in events.read(handle.run_dir) if e["event"] == "started"]
    assert len(started) == 1 and started[0]["nodes"] == "n[1-2]" and started[0]["num_nodes"] == 2


def test_signalled_run_requeues_resumes_and_matches(slurm_cluster, setup, monkeypatch):
    config, runs, reference = setup
    handle = submit(config, "preempted", monkeypatch)
    ready = handle.run_dir / "checkpoints" / "step-4.ready.json"
    deadline = time.monotonic() + 240
    while not ready.exists():
        assert time.monotonic() < deadline and not handle.done(), log_tail(handle.run_dir)
        time.sleep(0.2)
    handle.signal("USR1")
    assert handle.wait(timeout=300, poll=2) == "COMPLETED", log_tail(handle.run_dir)
    # srun --kill-on-bad-exit may report the other rank as killed before rank 0's exit code 124
    # arrives; the script then trusts rank 0's interrupted.json and says so in a "note" event.
    notes = [e for e in events.read(handle.run_dir) if e["event"] == "note"]
    assert all("rank 0 checkpointed on the signal" in e["reason"] for e in notes), notes
    evts = [(e["event"], e.get("attempt")) for e in events.read(handle.run_dir) if e["event"] != "note"]
    assert evts[:4] == [("submitted", None), ("started", 1), ("signal", 1), ("requeued", 1)], evts
    assert evts[-2:] == [("started", 2), ("finished", 2)], evts
    got = last_per_step(handle.run_dir / "metrics.jsonl")
    assert sorted(got) == sorted(reference)
    assert losses(got) == pytest.approx(losses(reference), rel=1e-6, abs=0)
    assert str(REPO) in (handle.run_dir / "slurm" / handle.script.name).read_text()
