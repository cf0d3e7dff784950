"""The backend seam's contract: DeepSpeed and megatron-core (CPU shim) behave the same behind it.

The same tiny model size, data, batch and seed run through the real trainer on each backend:
- the LR every step uses is the trainer's one schedule (`lr_at`) and is what the optimizer applied;
- a planted loss spike is skipped on both: the trainer's policy decides, and the weights and
  optimizer state after that step equal those before it;
- a run stopped after a checkpoint and resumed gives the same next losses as an uninterrupted one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llm_train.config import load_config
from llm_train.trainer.lr_schedule import lr_at, total_steps
from tests.helpers.tiny_packed import make_packed, megatron_shim_env, train_env, write_experiment

pytestmark = [pytest.mark.slow]

STEPS, STOP_AT, SPIKE_AT = 16, 8, 12  # the spike is planted in the 12th step


# A file, not `python -c`: megatron's checkpoint writer starts helper processes that re-import it.
WORKER = Path(__file__).with_name("backend_contract_worker.py")
PARALLEL = {
    "deepspeed": {"backend": "deepspeed", "zero_stage": 1, "dp": 1},
    "megatron": {"backend": "megatron", "dp": 1, "distributed_optimizer": False},
}


@pytest.fixture(scope="module")
def mixture(tmp_path_factory) -> Path:
    return make_packed(tmp_path_factory.mktemp("contract-data"))


def run(tmp: Path, backend: str, mixture: Path, name: str, stop_at: int = 0) -> list[dict]:
    tmp.mkdir(parents=True, exist_ok=True)
    config = write_experiment(
        tmp,
        mixture,
        train={
            "steps": STEPS,
            "warmup_steps": 4,
            "schedule": "cosine",
            "spike": {"zscore": 2.0, "window": 8, "warmup_steps": 4, "max_bad_steps": 3},
        },
        parallel=PARALLEL[backend],
        checkpoint={"every_steps": STOP_AT, "keep_last": 2},
    )
    env = megatron_shim_env() if backend == "megatron" else train_env()
    out, log = tmp / f"{name}.json", tmp / f"{name}.log"
    with open(log, "w") as handle:  # a file, not a pipe: a helper process outliving a kill holds no pipe
        code = subprocess.call(
            [
                sys.executable,
                str(WORKER),
                str(config),
                str(tmp / "run"),
                str(stop_at),
                str(SPIKE_AT),
                str(out),
            ],
            env=env,
            cwd=tmp,
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=900,
        )
    assert code == 0, log.read_text()[-6000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module", params=["deepspeed", "megatron"])
def runs(request, mixture, tmp_path_factory):
    backend = request.param
    root = tmp_path_factory.mktemp(f"contract-{backend}")
    straight = run(root / "straight", backend, mixture, "straight")
    first = run(root / "resumed", backend, mixture, "first", stop_at=STOP_AT)
    second = run(root / "resumed", backend, mixture, "second")  # same run dir: resumes
    cfg = load_config(root / "straight" / "experiment.yaml").config
    return backend, cfg, straight, first, second


def test_lr_is_the_trainers_schedule_and_the_one_applied(runs):
    backend, cfg, straight, _, _ = runs
    assert [r["step"] for r in straight] == list(range(1, STEPS + 1))
    for row in straight:
        want = lr_at(row["step"] - 1, cfg.train, total_steps(cfg.train))
        assert row["lr"] == pytest.approx(want, rel=1e-12), (backend, row)
        assert row["applied_lr"] == pytest.approx(want, rel=1e-12), (backend, row)
    assert straight[0]["lr"] == pytest.approx(cfg.train.lr / cfg.train.warmup_steps)  # warmup at step 0


def test_planted_spike_is_skipped_and_changes_nothing(runs):
    backend, _, straight, _, _ = runs
    skipped = [r["step"] for r in straight if r["skipped"]]
    assert skipped == [SPIKE_AT], (backend, [(r["step"], round(r["loss"], 3)) for r in straight])
    spike = straight[SPIKE_AT - 1]
    assert spike["weights_unchanged"] and spike["optimizer_unchanged"], backend
    normal = straight[SPIKE_AT]
    assert not normal["weights_unchanged"] and not normal["optimizer_unchanged"], backend


def test_resume_gives_the_same_next_losses(runs):
    backend, _, straight, first, second = runs
    assert [r["step"] for r in first] == list(range(1, STOP_AT + 1))
    assert [r["step"] for r in second] == list(range(STOP_AT + 1, STEPS + 1))
    for got, want in zip(first + second, straight, strict=True):
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-6, abs=1e-6), (backend, got, want)
        assert got["skipped"] == want["skipped"] and got["lr"] == want["lr"]
