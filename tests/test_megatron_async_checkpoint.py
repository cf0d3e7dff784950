"""Asynchronous checkpoint saves (`checkpoint.async_save`) with the megatron backend, 2 ranks at TP=2.

A save returns while megatron's forked writers still write the shards; the checkpoint must stay
invisible (no `step-N`, no ready marker, `latest` unchanged) until the finalize step, and what it
holds must be the state at the save call, equal to a synchronous save of the same state.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_train.config import load_config
from llm_train.errors import ConfigError
from tests.megatron_workers import spawn

PARALLEL = {"tp": 2}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("async-ckpt")
    run_dir, sync_dir = root / "run", root / "sync"
    kwargs = {"parallel": PARALLEL, "run_dir": str(run_dir), "sync_dir": str(sync_dir)}
    saved = spawn("job_async_saves", 2, root / "save", **kwargs)
    loaded = spawn("job_load_compare", 2, root / "load", **kwargs)
    return run_dir, saved, loaded


@pytest.mark.slow
@pytest.mark.distributed
def test_pending_save_is_invisible_until_finalized(runs):
    run_dir, saved, _ = runs
    seen = saved[0]["seen"]
    # Right after the save call, before any finalize: nothing published yet.
    assert seen["save1"] == {"latest": None, "ready": [], "dirs": [".step-1.tmp"], "published": []}
    assert seen["final1"] == {"latest": "step-1", "ready": [1], "dirs": ["step-1"], "published": [1]}
    # The second save is in flight: `latest` still names the first complete checkpoint.
    assert seen["save2"] == {
        "latest": "step-1",
        "ready": [1],
        "dirs": [".step-2.tmp", "step-1"],
        "published": [1],
    }
    assert seen["save2_metadata"] is False
    assert seen["final2"]["latest"] == "step-2" and seen["final2"]["published"] == [1, 2]
    # Retention (keep_last=2) runs in the finalize step too.
    assert seen["final3"] == {
        "latest": "step-3",
        "ready": [2, 3],
        "dirs": ["step-2", "step-3"],
        "published": [1, 2, 3],
    }
    # A save still in flight when the backend closes (error path) is never published.
    assert seen["save4"]["latest"] == seen["abandoned4"]["latest"] == "step-3"
    assert seen["abandoned4"]["ready"] == [2, 3] and seen["abandoned4"]["published"] == [1, 2, 3]
    assert all(r["pending_after_close"] == 0 for r in saved)
    ckpt = run_dir / "checkpoints"
    assert (ckpt / "latest").read_text().strip() == "step-3"
    assert not (ckpt / "step-4").exists() and not (ckpt / "step-4.ready.json").exists()
    for step in (2, 3):
        assert {"metadata.json", "common.pt", "trainer_state.json"} <= {
            p.name for p in (ckpt / f"step-{step}").iterdir()
        }


@pytest.mark.slow
@pytest.mark.distributed
def test_async_checkpoint_loads_like_a_synchronous_one(runs):
    _, saved, loaded = runs
    for rank in range(2):
        save, load = saved[rank], loaded[rank]
        assert load["latest"] == 3
        # Step 2 was written while training went on: it holds the weights of the save call.
        assert load["async2"]["digest"] == save["digests"]["2"]
        assert load["async2"]["counter"] == 2 and load["async3"]["counter"] == 3
        assert load["async3"]["digest"] == load["sync3"]["digest"] == save["digests"]["3"]
        # Same weights, optimizer moments and LR schedule: identical next steps.
        assert load["async3"]["losses"] == load["sync3"]["losses"]
        assert load["async2"]["losses"] != load["async3"]["losses"]


def test_async_save_refused_with_deepspeed(configs_root: Path) -> None:
    demo = configs_root / "experiments" / "demo-cpu.yaml"
    with pytest.raises(ConfigError) as exc:
        load_config(demo, ["parallel.backend=deepspeed", "checkpoint.async_save=true"])
    hits = [p for p in exc.value.problems if p.key == "checkpoint.async_save"]
    assert hits and "backend=megatron" in hits[0].message, exc.value
    assert hits[0].file == "<command line>"  # the override that set it
    megatron = load_config(demo, ["parallel.backend=megatron", "checkpoint.async_save=true"])
    assert megatron.config.checkpoint.async_save


@pytest.mark.slow
@pytest.mark.distributed
def test_train_cli_with_async_saves(tmp_path: Path) -> None:
    """The trainer publishes every background save: at the next save, and at the end of training."""
    import json

    from tests.helpers.tiny_packed import make_packed, run_megatron_train, write_experiment

    config = write_experiment(
        tmp_path,
        make_packed(tmp_path / "data"),
        train={"steps": 4, "warmup_steps": 1},
        parallel={"backend": "megatron", "tp": 2, "dp": 1, "distributed_optimizer": False},
        checkpoint={"every_steps": 2, "keep_last": 1, "keep_every": 2, "async_save": True},
    )
    ckpt = run_megatron_train(config, tmp_path, 2, "a") / "checkpoints"
    assert (ckpt / "latest").read_text().strip() == "step-4"
    assert sorted(p.name for p in ckpt.iterdir() if p.is_dir()) == ["step-2", "step-4"]
    for step in (2, 4):
        state = json.loads((ckpt / f"step-{step}" / "trainer_state.json").read_text())
        assert state["step"] == step
        assert json.loads((ckpt / f"step-{step}.ready.json").read_text())["backend"] == "megatron"
