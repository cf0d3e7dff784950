"""Trainer policies end to end on CPU: SIGTERM stop, NaN skip + rollback, crash during a save."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_train.trainer.exit_codes import INTERRUPTED
from tests.helpers.tiny_packed import make_packed, train_cmd, train_env, write_experiment

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mixture(tmp_path_factory) -> Path:
    return make_packed(tmp_path_factory.mktemp("packed"))


def events(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "event" in r]


def wait_for_step(metrics: Path, step: int, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        if metrics.exists() and any(f'"step": {step},' in line for line in metrics.read_text().splitlines()):
            return
        time.sleep(0.1)
    raise AssertionError(f"step {step} not reached")


@pytest.mark.distributed
def test_sigterm_checkpoints_and_exits_with_the_requeue_code(tmp_path, mixture):
    config = write_experiment(tmp_path, mixture, train={"steps": 500}, checkpoint={"every_steps": 1000})
    run_dir = tmp_path / "runs" / "t" / "sig"
    proc = subprocess.Popen(
        train_cmd(config, "--nproc", "2", "--run-id", "sig"),
        env=train_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_step(run_dir / "metrics.jsonl", 2, proc)
    proc.send_signal(signal.SIGTERM)  # the launcher forwards it to both ranks
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == INTERRUPTED, err[-3000:]
    latest = (run_dir / "checkpoints" / "latest").read_text().strip()
    step = int(latest.split("-")[1])
    assert 2 <= step < 500
    assert (run_dir / "checkpoints" / f"step-{step}.ready.json").is_file()
    assert (run_dir / "checkpoints" / latest / "model.safetensors").is_file()
    assert [e for e in events(run_dir) if e["event"] == "interrupted"][0]["step"] == step
    # The marker a Slurm script reads when srun reports a killed rank instead of 124.
    assert json.loads((run_dir / "interrupted.json").read_text())["step"] == step


NAN_SCRIPT = r"""
import sys, torch
from pathlib import Path
from llm_train.config import load_config
from llm_train.launch.dist_env import detect
from llm_train.trainer.callbacks import Callback
from llm_train.run_dir import RunDir
from llm_train.trainer.trainer import Trainer

class InjectNaN(Callback):
    '''Makes the embedding output NaN for `count` steps once the trainer reaches step `start`.'''
    name = "inject_nan"
    def __init__(self, start, count):
        self.start, self.left, self.active = start, count, False
    def pre_train(self, trainer):
        emb = trainer.backend.engine.module.model.embed_tokens
        emb.register_forward_hook(lambda m, i, o: o * float("nan") if self.active else o)
    def pre_step(self, trainer, step):
        self.active = step >= self.start and self.left > 0
        self.left -= self.active

config, run_dir = sys.argv[1], Path(sys.argv[2])
resolved = load_config(config)
RunDir(run_dir).prepare(resolved.yaml, resolved.sha256)
Trainer(resolved, run_dir, detect(), callbacks=[InjectNaN(start=5, count=3)]).fit()
"""


def test_nan_steps_are_skipped_then_rolled_back(tmp_path, mixture):
    config = write_experiment(
        tmp_path,
        mixture,
        train={"steps": 10, "spike": {"max_bad_steps": 3, "window": 10, "skip_samples_on_rollback": 8}},
        checkpoint={"every_steps": 4},
    )
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", NAN_SCRIPT, str(config), str(run_dir)],
        env=train_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    evs = events(run_dir)
    skips = [e for e in evs if e["event"] == "skip"]
    assert [e["step"] for e in skips] == [6, 7, 8]
    assert all(e["loss"] == "nan" for e in skips)
    rollback = [e for e in evs if e["event"] == "rollback"]
    assert len(rollback) == 1 and rollback[0]["from_step"] == 8 and rollback[0]["step"] == 4
    # 8 steps of 8 samples were read before the rollback; the offending window and 8 more are skipped.
    assert rollback[0]["consumed_samples"] == 8 * 8 + 8
    assert evs[-1]["event"] == "finished" and evs[-1]["step"] == 10
    from llm_train.tracking.jsonl import last_per_step

    train = last_per_step(run_dir / "metrics.jsonl")
    assert all(train[s]["skipped"] == 0.0 and train[s]["loss"] < 10 for s in range(5, 11))
    assert train[10]["consumed_samples"] == 8 * 8 + 8 + 6 * 8


CRASH_SCRIPT = r"""
import os, signal, sys
from pathlib import Path
from llm_train.config import load_config
from llm_train.launch.dist_env import detect
from llm_train.run_dir import RunDir
from llm_train.trainer.trainer import Trainer

config, run_dir = sys.argv[1], Path(sys.argv[2])
resolved = load_config(config)
RunDir(run_dir).prepare(resolved.yaml, resolved.sha256)
trainer = Trainer(resolved, run_dir, detect())
save = trainer.backend.save

def save_then_die(directory):
    save(directory)  # DeepSpeed state and weights are on disk, the checkpoint is not yet complete
    if trainer.step == 4:
        os.kill(os.getpid(), signal.SIGKILL)

trainer.backend.save = save_then_die
trainer.fit()
"""


def test_kill_during_save_keeps_latest_on_the_previous_complete_checkpoint(tmp_path, mixture):
    config = write_experiment(tmp_path, mixture, train={"steps": 6}, checkpoint={"every_steps": 2})
    run_dir = tmp_path / "runs" / "t" / "crash"
    proc = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(config), str(run_dir)],
        env=train_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    ckpt = run_dir / "checkpoints"
    assert (ckpt / "latest").read_text().strip() == "step-2"
    assert (ckpt / ".step-4.tmp").is_dir() and not (ckpt / "step-4").exists()
    assert not (ckpt / "step-4.ready.json").exists()
    # The normal command resumes from step 2 and finishes; the torn temp dir is cleaned up.
    resumed = subprocess.run(
        train_cmd(config, "--nproc", "1", "--run-id", "crash"),
        env=train_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    resume = [e for e in events(run_dir) if e["event"] == "resume"]
    assert resume and resume[-1]["step"] == 2 and resume[-1]["consumed_samples"] == 16
    assert not (ckpt / ".step-4.tmp").exists() and (ckpt / "latest").read_text().strip() == "step-6"
