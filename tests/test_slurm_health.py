"""Node gating and hang recovery on the real local Slurm, with the real trainer.

- Preflight: with `cluster.health.preflight=true` the train job burns in both nodes first. Node n2
  is made to fail by the documented test hook LLM_TRAIN_TEST_FAIL_NODES (the burn-in honours it
  like a failed check). The job records n2 in RUN_DIR/bad_nodes.txt, requeues itself with n2
  excluded and one node fewer, trains on n1 alone to the end, and `llm-train jobs` says why.
- Hang: rank 1 sleeps inside a step on the first attempt (tests.hooks:SleepInStep); the hang
  watchdog dumps the stacks and exits with the requeue code, Slurm requeues the job and the second
  attempt finishes from the last checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_train.cli.main import main as cli
from llm_train.slurm import events
from llm_train.slurm.handle import JobHandle
from llm_train.tracking.jsonl import last_per_step
from tests.helpers.tiny_packed import REPO, make_packed, train_env, write_experiment

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
STEPS = 8


def submit(config: Path, run_id: str, monkeypatch, *overrides: str, **env: str) -> JobHandle:
    # The job inherits this environment (sbatch --export=ALL), as it would from a login shell.
    for key, value in train_env(PYTHONPATH=str(REPO), **env).items():
        monkeypatch.setenv(key, value)
    argv = ["submit", str(config), *overrides, "--cluster", "local-slurm", "-t", "15", "--run-id", run_id]
    assert cli(argv) == 0
    run_dir = config.parent / "runs" / "t" / run_id
    (sub,) = events.submitted_jobs(run_dir)
    return JobHandle(sub["job_id"], run_dir, run_dir / "slurm" / sub["script"], "train")


def log_tail(run_dir: Path) -> str:
    return "\n".join(f"== {p.name}\n{p.read_text()[-3000:]}" for p in (run_dir / "slurm").glob("*.out"))


def test_failed_node_is_excluded_and_the_run_finishes_on_the_others(
    slurm_cluster, tmp_path, monkeypatch, capsys
):
    config = write_experiment(
        tmp_path,
        make_packed(tmp_path / "data"),
        train={"steps": STEPS},
        checkpoint={"every_steps": 4},
    )
    handle = submit(
        config, "gated", monkeypatch, "cluster.health.preflight=true", LLM_TRAIN_TEST_FAIL_NODES="n2"
    )
    assert handle.wait(timeout=420, poll=2) == "COMPLETED", log_tail(handle.run_dir)
    run = handle.run_dir

    evts = [e for e in events.read(run) if e["event"] != "note"]
    names = [(e["event"], e.get("attempt")) for e in evts]
    assert names == [
        ("submitted", None),
        ("started", 1),
        ("excluded", 1),
        ("started", 2),
        ("finished", 2),
    ], names
    first, excluded, second = evts[1], evts[2], evts[3]
    assert first["nodes"] == "n[1-2]" and first["num_nodes"] == 2
    assert excluded["nodes"] == "n2" and excluded["num_nodes"] == 1
    assert second["nodes"] == "n1" and second["num_nodes"] == 1

    rows = [line.split("\t") for line in (run / "bad_nodes.txt").read_text().splitlines()]
    assert [(r[0], r[1]) for r in rows] == [("n2", handle.job_id)]
    assert "LLM_TRAIN_TEST_FAIL_NODES" in rows[0][3]
    # The helper job that updated the held job succeeded; its script stays for the reader.
    assert slurm_cluster.wait(excluded["helper_job"], timeout=60) == "COMPLETED"
    assert (run / "slurm" / f"exclude-{handle.job_id}-1.sh").is_file()

    # Trained to the end, on one rank after the exclusion.
    metrics = last_per_step(run / "metrics.jsonl")
    assert sorted(metrics) == list(range(1, STEPS + 1))
    decision = (run / "health" / "decision.env").read_text()
    assert "HEALTH_ACTION=train" in decision and "HEALTH_EXCLUDE=n2" in decision

    capsys.readouterr()
    assert cli(["jobs", str(run)]) == 0
    out = capsys.readouterr().out
    assert "excluded nodes" in out and "n2" in out and "failed on purpose" in out


def test_hung_rank_is_dumped_requeued_and_the_run_finishes(slurm_cluster, tmp_path, monkeypatch):
    config = write_experiment(
        tmp_path,
        make_packed(tmp_path / "data"),
        train={"steps": 6, "hang_timeout_s": 20, "callbacks": ["tests.hooks:SleepInStep"]},
        checkpoint={"every_steps": 2},
    )
    handle = submit(config, "hung", monkeypatch, LLM_TRAIN_TEST_SLEEP="1:3:900")
    assert handle.wait(timeout=420, poll=2) == "COMPLETED", log_tail(handle.run_dir)
    run = handle.run_dir
    names = [(e["event"], e.get("attempt")) for e in events.read(run) if e["event"] != "note"]
    assert names == [
        ("submitted", None),
        ("started", 1),
        ("requeued", 1),
        ("started", 2),
        ("finished", 2),
    ], names
    (folder,) = (run / "hangs").iterdir()
    assert folder.name.endswith("-step-3")
    assert sorted(p.name for p in folder.glob("rank-*.txt")) == ["rank-0.txt", "rank-1.txt"]
    assert sorted(last_per_step(run / "metrics.jsonl")) == list(range(1, 7))
