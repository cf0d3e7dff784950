"""Tracking: Aim down never stops training; `llm-train track sync` imports every metric (idempotent)."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
from pathlib import Path

import pytest

from llm_train.tracking.jsonl import JsonlWriter, read_metrics
from tests.helpers.tiny_packed import make_packed, train_cmd, train_env, write_experiment


def aim_points(repo: Path) -> dict[tuple, float]:
    from aim import Repo

    out = {}
    for run in Repo.from_path(str(repo)).iter_runs():  # indexed runs only: what users see
        for metric in run.metrics():
            ctx = json.dumps(metric.context.to_dict(), sort_keys=True)
            for step, (value, *_rest) in metric.data.items():  # (value, epoch, time) per step
                out[(run.hash, metric.name, ctx, step)] = value
    return out


def jsonl_points(path: Path) -> dict[tuple, float]:
    out = {}
    for r in read_metrics(path):
        ctx = json.dumps(r["context"], sort_keys=True)
        for name, value in r["metrics"].items():
            out[(name, ctx, r["step"])] = float(value)
    return out


def sync(run_dir: Path, repo: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "llm_train.cli.main", "track", "sync", str(run_dir), "--repo", str(repo)],
        env=train_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_sync_imports_every_metric_idempotently(tmp_path):
    run_dir = tmp_path / "run"
    writer = JsonlWriter(run_dir / "metrics.jsonl")
    for step in range(1, 6):
        writer.log(step, {"loss": 5.0 / step, "lr": 1e-3}, {"subset": "train"})
    writer.log(5, {"loss": 2.5, "bpb": 1.25}, {"subset": "valid", "lang": "de"})
    writer.log(3, {"loss": 1.75, "lr": 1e-3}, {"subset": "train"})  # a resume rewrote step 3
    writer.event(5, "finished")
    writer.close()
    repo = tmp_path / "aim"
    assert "synced 14 metric points" in sync(run_dir, repo)
    first = aim_points(repo)
    sync(run_dir, repo)
    assert aim_points(repo) == first  # same run, same points
    (run_hash,) = {k[0] for k in first}
    expected = jsonl_points(run_dir / "metrics.jsonl")
    assert {k[1:]: v for k, v in first.items()} == pytest.approx(expected)
    assert expected[("loss", json.dumps({"subset": "train"}), 3)] == 1.75


@pytest.mark.slow
def test_training_survives_an_unreachable_aim_server_then_sync_imports(tmp_path):
    mixture = make_packed(tmp_path / "packed", docs_per_lang=60)
    config = write_experiment(
        tmp_path,
        mixture,
        train={"steps": 4, "eval_every": 2, "eval_iters": 1},
        tracking={"aim": True, "aim_repo": "aim://127.0.0.1:9"},
    )
    proc = subprocess.run(
        train_cmd(config, "--nproc", "1", "--run-id", "noaim"),
        env=train_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("aim: disabled") == 1
    run_dir = tmp_path / "runs" / "t" / "noaim"
    expected = jsonl_points(run_dir / "metrics.jsonl")
    assert {k[2] for k in expected if k[0] == "loss" and "train" in k[1]} == {1, 2, 3, 4}
    assert any('"lang": "de"' in k[1] and k[0] == "bpb" for k in expected)
    repo = tmp_path / "aim"
    sync(run_dir, repo)
    got = {k[1:]: v for k, v in aim_points(repo).items()}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert (math.isnan(value) and math.isnan(got[key])) or got[key] == pytest.approx(value)


def aim_runs(repo: Path) -> dict[str, str]:
    """{run hash: name} from Aim's run table (every run, indexed or not)."""
    from aim import Repo

    return {run.hash: run.name for run in Repo.from_path(str(repo)).structured_db.runs()}


def train_steps(repo: Path, run_hash: str) -> list[int]:
    from aim import Repo

    from llm_train.tracking.aim_tracker import index_run

    index_run(str(repo), run_hash)
    run = Repo.from_path(str(repo)).get_run(run_hash)
    (metric,) = [m for m in run.metrics() if m.name == "loss" and m.context.to_dict() == {"subset": "train"}]
    return sorted(int(step) for step in metric.data.indices_list())


def test_another_spelling_of_the_repo_continues_the_same_run(tmp_path, monkeypatch):
    from llm_train.tracking import AimTracker

    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "runs" / "t" / "r"
    run_dir.mkdir(parents=True)
    for repo, steps in (("runs/aim", (1, 2)), (f"{tmp_path}/runs/./aim/", (3, 4))):
        tracker = AimTracker(repo, run_dir, "t", {}, None)
        for step in steps:
            tracker.log(step, {"loss": 1.0 / step}, {"subset": "train"})
        tracker.close()
    (run_hash,) = aim_runs(tmp_path / "runs" / "aim")
    assert train_steps(tmp_path / "runs" / "aim", run_hash) == [1, 2, 3, 4]
    assert json.loads((run_dir / "aim.json").read_text())["repo"] == str(tmp_path / "runs" / "aim")


KILLED_TRAINER = """
import os, sys
from pathlib import Path
from llm_train.tracking import AimTracker
tracker = AimTracker(sys.argv[1], Path(sys.argv[2]), "t", {}, None)
tracker.log(1, {"loss": 2.0}, {"subset": "train"})
os.kill(os.getpid(), 9)  # killed at the time limit: the run's lock stays behind
"""


def test_a_trainer_killed_on_another_node_is_continued(tmp_path, caplog):
    """Aim frees a dead holder's lock only on the same machine: after a requeue onto another node the
    resumed trainer takes over the lock its own run dir's previous trainer left. (filelock >= 3.2x
    also breaks any Aim lock older than 2 s, since Aim rewrites the lock file in a format filelock
    calls malformed; Aim allows filelock back to 3.3, which waits and fails instead.)"""
    from llm_train.tracking import AimTracker

    repo, run_dir = tmp_path / "aim", tmp_path / "runs" / "t" / "r"
    run_dir.mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-c", KILLED_TRAINER, str(repo), str(run_dir)], env=train_env())
    assert proc.returncode == -9
    state = json.loads((run_dir / "aim.json").read_text())
    lock = repo / ".aim" / "locks" / f"{state['run_hash']}.softlock"
    # What the lock says when that trainer ran on another node: another machine id, same format.
    _machine, pid, stamp = lock.read_text().split("-", 2)
    lock.write_text(f"1{_machine}-{pid}-{stamp}")
    state["lock"] = lock.read_text()
    (run_dir / "aim.json").write_text(json.dumps(state))
    with caplog.at_level(logging.WARNING, logger="llm_train.tracking.aim_tracker"):
        tracker = AimTracker(str(repo), run_dir, "t", {}, None)
    assert tracker.active and tracker.run.hash == state["run_hash"]
    assert "previous trainer" in caplog.text
    tracker.log(2, {"loss": 1.0}, {"subset": "train"})
    tracker.close()
    assert list(aim_runs(repo)) == [state["run_hash"]]
    assert train_steps(repo, state["run_hash"]) == [1, 2]


@pytest.mark.slow
def test_a_resume_that_fails_early_leaves_one_aim_run(tmp_path):
    """Started locally (runs_dir relative), resumed the way `llm-train submit` does it (runs_dir made
    absolute): first an attempt that fails right after opening Aim, then one that finishes."""
    mixture = make_packed(tmp_path / "packed", docs_per_lang=60)
    config = write_experiment(
        tmp_path,
        mixture,
        runs_dir="runs",
        train={"steps": 3},
        tracking={"aim": True, "system_metrics": False},
    )

    def train(*overrides: str) -> subprocess.CompletedProcess:
        cmd = train_cmd(config, "--nproc", "1", "--run-id", "r", *overrides)
        return subprocess.run(cmd, env=train_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)

    first = train()
    assert first.returncode == 0, first.stderr[-3000:]
    absolute = (f"runs_dir={tmp_path / 'runs'}", "train.steps=6")
    failed = train(*absolute, f"train.resume={tmp_path / 'no-such-checkpoint'}")
    assert failed.returncode != 0
    resumed = train(*absolute)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    repo = tmp_path / "runs" / "aim"
    runs = aim_runs(repo)
    assert list(runs.values()) == ["t/r"], runs
    (run_hash,) = runs
    assert train_steps(repo, run_hash) == [1, 2, 3, 4, 5, 6]
