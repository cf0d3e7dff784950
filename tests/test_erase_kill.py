"""Erasure survives kill -9 at any point: the process is killed just before its N-th atomic rename
(every file it publishes goes through one), for N spread over a whole run, and the same command run
again ends in exactly the state of an uninterrupted erasure."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.rights import build_data

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]

# Runs `llm-train` with os.replace counting its calls and SIGKILLing the process at call N.
KILLER = """
import atexit, os, signal, sys
n, count, real = int(os.environ.get("KILL_AT_REPLACE", "0")), [0], os.replace
def replace(*args, **kwargs):
    count[0] += 1
    if count[0] == n:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
os.replace = replace
if os.environ.get("COUNT_FILE"):
    atexit.register(lambda: open(os.environ["COUNT_FILE"], "w").write(str(count[0])))
from llm_train.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def erase(work: Path, kill_at: int = 0, count_file: Path | None = None) -> subprocess.CompletedProcess:
    argv = [
        "data",
        "erase",
        "--corpus",
        str(work / "clean"),
        "--ids",
        "planted-de-1",
        "--match",
        r"jean\.dupont",
        "--packed",
        str(work / "packed"),
        "--runs",
        str(work / "no-runs"),
        "--no-progress",
    ]
    env = {**os.environ, "KILL_AT_REPLACE": str(kill_at), "PYTHONPATH": str(REPO)}
    if count_file:
        env["COUNT_FILE"] = str(count_file)
    return subprocess.run(
        [sys.executable, "-c", KILLER, *argv], env=env, capture_output=True, text=True, timeout=600
    )


_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def state(work: Path) -> dict[str, object]:
    """Everything an erasure writes, with its timestamps (the only legitimate difference) masked."""
    out: dict[str, object] = {}
    for path in sorted(p for p in work.rglob("*") if p.is_file()):
        rel = str(path.relative_to(work))
        if (
            rel.startswith("raw/")
            or rel.startswith("tokenizer/")
            or "/.prep/" in f"/{rel}"
            or rel.endswith("/lock")
        ):
            continue
        data = path.read_bytes()
        if path.name in ("stats.json", "pack_stats.json", "meta.json", "erasures.jsonl", "DATACARD.md"):
            text = _TIME.sub("<time>", data.decode())
            text = re.sub(r'"(corpus_stats_sha256|elapsed_s)": [^,\n]+', r'"\1": <masked>', text)
            data = text.encode()
        out[rel] = data
    return out


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("erase-kill")
    work = root / "work"
    build_data(work)
    (work / "no-runs").mkdir()
    backup = root / "backup"
    shutil.copytree(work, backup, symlinks=True)
    count = root / "count"
    done = erase(work, count_file=count)
    assert done.returncode == 0, done.stderr[-2000:]
    return root, work, backup, state(work), int(count.read_text())


def restore(work: Path, backup: Path) -> None:
    shutil.rmtree(work)
    shutil.copytree(backup, work, symlinks=True)


def test_reference_erasure_publishes_through_atomic_renames(prepared):
    _, work, _, reference, renames = prepared
    assert renames >= 10  # two rewritten files, stats, cards, two rebuilt datasets, maps, log, journal
    assert not (work / "clean" / ".erase" / "pending.json").exists()
    assert len((work / "clean" / "erasures.jsonl").read_text().splitlines()) == 1
    assert not [p for p in work.rglob("*.tmp")]


@pytest.mark.parametrize("fraction", [0.0, 0.15, 0.35, 0.5, 0.7, 0.9, 1.0])
def test_killed_erasure_finishes_identically_when_run_again(prepared, fraction):
    _, work, backup, reference, renames = prepared
    restore(work, backup)
    kill_at = max(1, round(fraction * renames))
    killed = erase(work, kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, (kill_at, killed.stderr[-2000:])
    again = erase(work)
    assert again.returncode == 0, (kill_at, again.stderr[-2000:])
    now = state(work)
    assert sorted(now) == sorted(reference), kill_at
    for name, data in reference.items():
        assert now[name] == data, (kill_at, name)
    assert not (work / "clean" / ".erase" / "pending.json").exists()
    assert not [p for p in work.rglob("*.tmp")]
    # And once more: recognised as done.
    third = erase(work)
    assert third.returncode == 0 and "nothing to do" in third.stdout
    assert json.loads((work / "clean" / "erasures.jsonl").read_text())["matched"]["documents"] == 2
