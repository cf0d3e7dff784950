"""Exact resume: 2N steps straight == N steps, SIGKILL, resume for N more (bit-for-bit, fp32, 2 ranks)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from llm_train.tracking.jsonl import last_per_step
from tests.helpers.tiny_packed import make_packed, train_cmd, train_env, write_experiment

pytestmark = [pytest.mark.slow, pytest.mark.distributed]
N = 3


@pytest.fixture(scope="module")
def mixture(tmp_path_factory) -> Path:
    return make_packed(tmp_path_factory.mktemp("packed"))


def run(config: Path, run_id: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        train_cmd(config, "--nproc", "2", "--run-id", run_id),
        env=train_env(),
        timeout=timeout,
        capture_output=True,
        text=True,
    )


def kill_after_checkpoint(config: Path, run_id: str, run_dir: Path, step: int) -> None:
    """Start a run, SIGKILL launcher and ranks as soon as checkpoint `step` is ready."""
    proc = subprocess.Popen(
        train_cmd(config, "--nproc", "2", "--run-id", run_id),
        env=train_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    marker = run_dir / "checkpoints" / f"step-{step}.ready.json"
    deadline = time.monotonic() + 600
    while not marker.exists():
        assert proc.poll() is None, f"run ended before checkpoint {step}: {proc.stderr.read()[-3000:]}"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("zero_stage", [0, 1, 3])
def test_kill_and_resume_is_bit_exact(tmp_path, mixture, zero_stage):
    config = write_experiment(
        tmp_path,
        mixture,
        train={"steps": 2 * N},
        parallel={"zero_stage": zero_stage},
        checkpoint={"every_steps": N, "save_final": False},
    )
    ref = run(config, "straight")
    assert ref.returncode == 0, ref.stderr[-3000:]
    runs = tmp_path / "runs" / "t"
    kill_after_checkpoint(config, "killed", runs / "killed", N)
    resumed = run(config, "killed")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    straight = last_per_step(runs / "straight" / "metrics.jsonl")
    restarted = last_per_step(runs / "killed" / "metrics.jsonl")
    assert sorted(straight) == list(range(1, 2 * N + 1))
    for step in straight:
        for key in ("loss", "grad_norm", "lr", "consumed_samples"):
            assert restarted[step][key] == straight[step][key], (step, key)
    events = (runs / "killed" / "metrics.jsonl").read_text()
    assert '"event": "resume"' in events
    # The loss falls on this learnable data.
    assert straight[2 * N]["loss"] < straight[1]["loss"]
