"""Exactly-once: kill -9 `llm-train prep` mid-run, rerun, and get the bytes of a clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.prep_support import REPO, TEST_CONFIG, make_corpus, tree_bytes

SHARDS = 6


def prep_cmd(inputs: Path, out: Path, config: Path) -> list[str]:
    return [
        sys.executable, "-m", "llm_train.cli.main", "prep",
        "--input", str(inputs / "*.jsonl.gz"), "--output", str(out), "--config", str(config), "--no-progress",
    ]  # fmt: skip


def run(cmd: list[str]) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def kill_when(cmd: list[str], ready, timeout: float = 120) -> None:
    """Start `cmd` in its own process group and SIGKILL the whole group once `ready()` holds."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, "prep finished before it could be killed"
            assert time.monotonic() < deadline, "prep never reached the kill point"
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_gives_identical_output(tmp_path):
    inputs = tmp_path / "in"
    make_corpus(inputs, shards=SHARDS, per_shard=10)
    config = tmp_path / "prep.yaml"
    # Slow the per-document stage down so the kill lands inside a shard.
    config.write_text(
        TEST_CONFIG.replace("steps:\n", "steps:\n  test_sleep: {seconds_per_doc: 0.04}\n"), encoding="utf-8"
    )

    clean = tmp_path / "clean"
    run(prep_cmd(inputs, clean, config) + ["--workers", "2"])

    out = tmp_path / "killed"
    shard_markers = out / ".prep" / "shards"

    def some_shards_done() -> bool:
        return 2 <= len(list(shard_markers.glob("*.done.json"))) < SHARDS

    kill_when(prep_cmd(inputs, out, config) + ["--workers", "2"], some_shards_done)
    done = len(list(shard_markers.glob("*.done.json")))
    assert 2 <= done < SHARDS
    assert not (out / "stats.json").exists()

    # Second crash, now in the write stage if we can catch it there (a rerun resumes either way).
    write_markers = out / ".prep" / "write"
    kill_when(
        prep_cmd(inputs, out, config),
        lambda: len(list(write_markers.glob("*.done.json"))) >= 1 or (out / "stats.json").exists(),
    )
    run(prep_cmd(inputs, out, config))

    got, want = tree_bytes(out), tree_bytes(clean)
    assert sorted(got) == sorted(want)
    assert [name for name in want if got[name] != want[name]] == []
    assert not list(out.rglob("*.tmp"))
