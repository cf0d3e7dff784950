"""Tracking: Aim down never stops training; `llm-train track sync` imports every metric (idempotent)."""

from __future__ import annotations

import json
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
