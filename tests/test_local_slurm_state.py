"""The local Slurm cluster starts from a checkout under a directory other users cannot enter.

munged runs as user munge; with the state dir under a 0700 home or temp dir it could not reach its
key and socket. The scripts then keep munge's part in /var/tmp (`munge_dir` in lib.sh) and say so.
A second, one-node cluster on other ports runs beside the session's (if one is up) and is stopped
and removed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.slurm_cluster import CLUSTER_DIR, read_env_sh

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _munge_dir(state: Path) -> str:
    proc = subprocess.run(
        ["bash", "-c", f'. "{CLUSTER_DIR}/lib.sh" && echo "$MUNGE_DIR"'],
        env={**os.environ, "LLM_TRAIN_SLURM_STATE": str(state)},
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def test_munge_state_moves_out_of_a_private_tree(tmp_path):
    # pytest's own tmp tree is private (0700): an open tree must live elsewhere.
    open_tree = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        open_tree.chmod(0o755)
        assert _munge_dir(open_tree / "state") == str(open_tree / "state" / "munge")
    finally:
        shutil.rmtree(open_tree)
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    assert _munge_dir(private / "checkout" / ".slurm-state").startswith("/var/tmp/llm-train-munge-")


def test_cluster_starts_with_its_state_under_a_0700_dir(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    state = home / "checkout" / ".slurm-state"
    env = {
        **os.environ,
        "LLM_TRAIN_SLURM_STATE": str(state),
        "SETTING_NODES": "1",
        "SETTING_ACCOUNTING": "0",
        "SETTING_CLUSTER": "private",
        "SETTING_CTLD_PORT": "6837",
        "SETTING_SLURMD_PORT_BASE": "6938",
    }
    try:
        start = subprocess.run(
            ["bash", str(CLUSTER_DIR / "start.sh")], env=env, capture_output=True, text=True, timeout=300
        )
        assert start.returncode == 0, start.stdout[-2000:] + start.stderr[-2000:]
        assert "user munge cannot enter" in start.stdout
        cluster = {**env, **read_env_sh(state / "env.sh")}
        job = subprocess.run(
            ["srun", "-N1", "hostname"], env=cluster, capture_output=True, text=True, timeout=120
        )
        assert job.returncode == 0 and job.stdout.strip() == "n1", job.stderr
    finally:
        subprocess.run(
            ["bash", str(CLUSTER_DIR / "stop.sh"), "--reset"], env=env, capture_output=True, timeout=120
        )
    assert not state.exists()
