"""`llm-train train` with parallel.backend=megatron parallel.tp=2, through the CLI, on CPU.

The spawned ranks load the test-only CPU shim (tests/megatron_shim_site) because megatron-core
insists on CUDA in a few places; the product code path is otherwise the real one. A second run at
TP=1 on the same data and seed must give the same losses (tensor parallelism changes nothing).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.tiny_packed import make_packed, run_megatron_train, write_experiment

pytestmark = [pytest.mark.slow, pytest.mark.distributed]


def losses(run_dir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {
        r["step"]: r["metrics"]["loss"]
        for r in rows
        if r.get("context", {}).get("subset") == "train" and "loss" in r.get("metrics", {})
    }


def run_train(tmp: Path, mixture: Path, tp: int, run_id: str) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    config = write_experiment(
        tmp,
        mixture,
        train={"steps": 4, "warmup_steps": 1},
        parallel={"backend": "megatron", "tp": tp, "dp": 1, "distributed_optimizer": False},
        checkpoint={"every_steps": 4, "keep_last": 1},
    )
    return run_megatron_train(config, tmp, tp, run_id)


def test_train_cli_megatron_tp2_equals_tp1(tmp_path: Path) -> None:
    mixture = make_packed(tmp_path / "data")
    tp2 = run_train(tmp_path / "tp2", mixture, 2, "tp2")
    tp1 = run_train(tmp_path / "tp1", mixture, 1, "tp1")
    l2, l1 = losses(tp2), losses(tp1)
    assert sorted(l2) == sorted(l1) and len(l2) == 4
    for step in l1:
        assert l2[step] == pytest.approx(l1[step], abs=1e-5)
    assert (tp2 / "checkpoints" / "step-4.ready.json").exists()
    assert (tp2 / "checkpoints" / "latest").read_text().strip() == "step-4"
