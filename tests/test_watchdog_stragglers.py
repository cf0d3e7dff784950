"""Hang watchdog and straggler detection on a real 2-rank DeepSpeed run (CPU, gloo).

The hang: rank 1 sleeps inside the forward pass of step 3 (the documented test hook
tests.hooks:SleepInStep); rank 0 then waits in the gradient reduction. Both watchdogs fire: every
rank's Python stacks land in RUN_DIR/hangs/<start>-step-3/, the run exits with the requeue code well
before the sleep ends, and the same command afterwards (as Slurm's requeue runs it) finishes.
The straggler: rank 1's forward passes are slowed (tests.hooks:SlowForward); the run logs it with
its host and `llm-train jobs RUN_DIR` lists the host.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_train.cli.main import main as cli_main
from llm_train.trainer.exit_codes import INTERRUPTED
from llm_train.trainer.watchdog import HangWatchdog
from tests.helpers.tiny_packed import REPO, make_packed, train_env, write_experiment

pytestmark = [pytest.mark.slow, pytest.mark.distributed]


def run_train(
    config: Path, cwd: Path, run_id: str, timeout: float, **env: str
) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "llm_train.cli.main",
        "train",
        str(config),
        "--nproc",
        "2",
        "--run-id",
        run_id,
    ]
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=train_env(PYTHONPATH=str(REPO), **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_hang_dumps_every_rank_and_exits_for_requeue(tmp_path):
    mixture = make_packed(tmp_path / "data")
    config = write_experiment(
        tmp_path,
        mixture,
        train={"steps": 6, "hang_timeout_s": 20, "callbacks": ["tests.hooks:SleepInStep"]},
        checkpoint={"every_steps": 2},
        parallel={"backend": "deepspeed", "zero_stage": 1, "dp": 2},
    )
    start = time.monotonic()
    proc = run_train(config, tmp_path, "h", timeout=400, LLM_TRAIN_TEST_SLEEP="1:3:900")
    elapsed = time.monotonic() - start
    assert proc.returncode == INTERRUPTED, proc.stderr[-3000:]
    assert elapsed < 300  # the sleep would have lasted 900 s
    run = tmp_path / "runs" / "t" / "h"
    (folder,) = (run / "hangs").iterdir()
    assert folder.name.endswith("-step-3")
    stacks = {p.name: p.read_text() for p in folder.glob("rank-*.txt")}
    assert sorted(stacks) == ["rank-0.txt", "rank-1.txt"]
    assert "_maybe_sleep" in stacks["rank-1.txt"]  # the rank that hangs, caught in the act
    assert "Thread" in stacks["rank-0.txt"] and "after step 2" in stacks["rank-0.txt"]
    marker = json.loads((run / "interrupted.json").read_text())
    assert marker["reason"] == "hang" and marker["step"] == 2
    # The requeued attempt (Slurm sets SLURM_RESTART_COUNT) resumes from step 2 and finishes.
    proc = run_train(
        config, tmp_path, "h", timeout=600, LLM_TRAIN_TEST_SLEEP="1:3:900", SLURM_RESTART_COUNT="1"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e.get("event") == "resume"] == [2]
    assert (run / "checkpoints" / "step-6.ready.json").is_file()


def test_default_timeout_follows_the_step_time_with_a_floor():
    dog = HangWatchdog()
    dog.fixed, dog.floor = None, 300.0
    assert dog.timeout() == 300.0
    dog.step_times.extend([50.0, 60.0, 70.0])
    assert dog.timeout() == 600.0  # 10 x the median
    dog.fixed = 42.0
    assert dog.timeout() == 42.0


def test_straggler_is_logged_with_its_host_and_listed_by_jobs(tmp_path, capsys):
    mixture = make_packed(tmp_path / "data")
    config = write_experiment(
        tmp_path,
        mixture,
        train={
            "steps": 4,
            "straggler_every": 2,
            "straggler_factor": 1.5,
            "callbacks": ["tests.hooks:SlowForward"],
        },
        parallel={"backend": "deepspeed", "zero_stage": 1, "dp": 2},
    )
    proc = run_train(config, tmp_path, "s", timeout=600, LLM_TRAIN_TEST_SLOW="1:0.5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "runs" / "t" / "s"
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    slow = [e for e in events if e.get("event") == "straggler"]
    assert slow and {e["rank"] for e in slow} == {1} and all(e["ratio"] > 1.5 for e in slow)
    assert slow[0]["host"] == socket.gethostname()
    assert cli_main(["jobs", str(run)]) == 0
    out = capsys.readouterr().out
    assert "slow hosts" in out and socket.gethostname() in out
