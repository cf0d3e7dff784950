"""pytest plugin: a real Slurm cluster on loopback for tests marked ``slurm``.

Load it from ``tests/conftest.py`` with ``pytest_plugins = ["tests.slurm_cluster"]``.

The session-scoped ``slurm_cluster`` fixture runs ``slurm/local-cluster/start.sh`` (munged,
MariaDB + slurmdbd, slurmctld and two emulated nodes ``n1``/``n2``), puts the variables of the
generated ``env.sh`` into ``os.environ`` for the session, and stops the cluster at the end, but only
if this session started it: a cluster that was already healthy is left running.

Starting needs root (apt-get, daemons). Set ``LLM_TRAIN_SKIP_SLURM=1`` to skip these tests on a
machine where that is impossible; CI must not set it, or a broken Slurm path would go unnoticed.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llm_train.slurm.query import TERMINAL

REPO_ROOT = Path(__file__).resolve().parents[1]
CLUSTER_DIR = REPO_ROOT / "slurm" / "local-cluster"


def default_state_dir() -> Path:
    return Path(os.environ.get("LLM_TRAIN_SLURM_STATE", REPO_ROOT / ".slurm-state"))


def read_env_sh(path: Path) -> dict[str, str]:
    """The variables that sourcing ``path`` sets or changes, evaluated by bash itself."""
    out = subprocess.run(
        ["bash", "-c", 'set -e; . "$1"; env -0', "bash", str(path)],
        check=True,
        capture_output=True,
        env=dict(os.environ),
    ).stdout
    env = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    return {k: v for k, v in env.items() if os.environ.get(k) != v and k not in ("_", "SHLVL", "PWD")}


@dataclass
class SlurmCluster:
    """Handle on a running local cluster: command helpers that use its ``env``."""

    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    started_here: bool = False

    def run(self, *cmd: str, check: bool = True, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(cmd),
            check=check,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **self.env},
            **kw,
        )

    def sbatch(self, script_path: str | os.PathLike, *args: str) -> str:
        """Submit ``script_path`` (sbatch options in ``args``) from its directory; return the job id."""
        script = Path(script_path).resolve()
        proc = self.run("sbatch", "--parsable", *args, str(script), check=False, cwd=script.parent)
        if proc.returncode != 0:
            raise RuntimeError(f"sbatch {' '.join(args)} {script} failed: {proc.stderr.strip()}")
        return proc.stdout.strip().split(";")[0]

    def controller_states(self, job_id: str) -> dict[str, str]:
        """State of each allocation of ``job_id`` (``<id>_<task>`` for array tasks) as slurmctld
        sees it; empty once the job aged out of the controller (MinJobAge)."""
        proc = self.run("scontrol", "-o", "show", "job", str(job_id), check=False)
        result = {}
        for line in proc.stdout.splitlines():
            fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            if "JobId" in fields:
                task = fields.get("ArrayTaskId")
                jid = f"{fields['ArrayJobId']}_{task}" if task else fields["JobId"]
                result[jid] = fields.get("JobState", "UNKNOWN")
        return result

    def accounting_states(self, job_id: str) -> dict[str, str] | None:
        """State of each allocation of ``job_id`` from ``sacct``; None when accounting is off."""
        proc = self.run("sacct", "-n", "-X", "-P", "-j", str(job_id), "-o", "JobID,State", check=False)
        if proc.returncode != 0:
            return None
        rows = (line.split("|") for line in proc.stdout.splitlines() if "|" in line)
        # "CANCELLED by 0" -> "CANCELLED"
        return {jid: state.split()[0] for jid, state in rows if state}

    def states(self, job_id: str) -> dict[str, str]:
        """Accounting's view of ``job_id`` (what submitit polls), the controller's without accounting."""
        acct = self.accounting_states(job_id)
        return self.controller_states(job_id) if acct is None else acct

    def wait(self, job_id: str, timeout: float = 60.0, poll: float = 0.5) -> str:
        """Wait until every allocation of ``job_id`` reached a terminal state and return it.

        Done means: slurmctld has every allocation in a terminal state and accounting (which lags
        behind the controller by up to a second) lists each of them as terminal too. For a job
        array whose tasks ended differently, the distinct states are joined with ",".
        """
        deadline = time.monotonic() + timeout
        seen: dict[str, str] = {}
        while time.monotonic() < deadline:
            ctld = self.controller_states(job_id)
            if not ctld or all(s in TERMINAL for s in ctld.values()):
                acct = self.accounting_states(job_id)
                seen = ctld if acct is None else acct
                if seen and set(ctld) <= set(seen) and all(s in TERMINAL for s in seen.values()):
                    return ",".join(sorted(set(seen.values())))
            else:
                seen = ctld
            time.sleep(poll)
        raise TimeoutError(f"job {job_id} not finished after {timeout:.0f} s: {seen or 'unknown to Slurm'}")


def _cluster_script(name: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(CLUSTER_DIR / name), *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    if os.environ.get("LLM_TRAIN_SKIP_SLURM") == "1":
        pytest.skip("LLM_TRAIN_SKIP_SLURM=1")
    state_dir = default_state_dir()
    already_healthy = _cluster_script("start.sh", "--check", timeout=30).returncode == 0
    if not already_healthy:
        if os.geteuid() != 0:
            pytest.fail(
                "the local Slurm cluster is not running and starting it needs root: run "
                "slurm/local-cluster/start.sh as root first, or set LLM_TRAIN_SKIP_SLURM=1"
            )
        proc = _cluster_script("start.sh", timeout=600)
        if proc.returncode != 0:
            pytest.fail(f"slurm/local-cluster/start.sh failed:\n{proc.stdout}\n{proc.stderr}")

    env = read_env_sh(state_dir / "env.sh")
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield SlurmCluster(state_dir=state_dir, env=env, started_here=not already_healthy)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if not already_healthy:
            proc = _cluster_script("stop.sh", timeout=120)
            if proc.returncode != 0:
                raise RuntimeError(f"slurm/local-cluster/stop.sh failed:\n{proc.stdout}\n{proc.stderr}")
