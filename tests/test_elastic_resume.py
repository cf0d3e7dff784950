"""Elastic resume: a run saved with one layout resumes with another, at the exact data position.

For each case a never-changed reference run trains 6 steps (checkpoint every 3). A copy of its run
dir cut back to the step-3 checkpoint (what a job stopped there leaves) is resumed with the user's
command, `llm-train train RUN_DIR --nproc N parallel.dp=...`, under another layout. Then:
- the samples read in steps 4-6 (global indices and token digests, over all ranks) are exactly the
  reference's: nothing repeated, nothing skipped;
- the losses of steps 4-6 match the reference's (the optimizer state was resharded, not reset);
- the resume logged the layout change.
DeepSpeed: DP 2->1 and 1->2 at ZeRO 1 and 3 (universal checkpoint). megatron (CPU shim): TP 2->1 and
PP 1->2 (dist_checkpointing reshards weights and optimizer state).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.tiny_packed import REPO, make_packed, megatron_shim_env, train_env, write_experiment

pytestmark = [pytest.mark.slow, pytest.mark.distributed]
STEPS, CUT = 6, 3
HOOKS = ["tests.hooks:RecordSamples"]


@pytest.fixture(scope="module")
def mixture(tmp_path_factory) -> Path:
    return make_packed(tmp_path_factory.mktemp("elastic-data"))


def _train(args: list[str], cwd: Path, megatron: bool) -> str:
    env = megatron_shim_env() if megatron else train_env(PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "llm_train.cli.main", "train", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


def reference(tmp: Path, mixture: Path, parallel: dict, nproc: int) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    config = write_experiment(
        tmp,
        mixture,
        # Tied embeddings across pipeline stages take a CUDA-only path in megatron-core (not in the shim).
        model={"vocab_size": 320, "tie_embeddings": parallel["backend"] != "megatron"},
        train={"steps": STEPS, "warmup_steps": 2, "callbacks": HOOKS},
        parallel=parallel,
        checkpoint={"every_steps": CUT, "keep_last": 5},
    )
    _train([str(config), "--nproc", str(nproc), "--run-id", "ref"], tmp, parallel["backend"] == "megatron")
    return tmp / "runs" / "t" / "ref"


def cut_back(run: Path, to: Path) -> Path:
    """The reference run dir as a job stopped after the step-3 checkpoint would have left it."""
    shutil.copytree(run, to)
    ckpt = to / "checkpoints"
    for step in range(CUT + 1, STEPS + 1):
        shutil.rmtree(ckpt / f"step-{step}", ignore_errors=True)
        (ckpt / f"step-{step}.ready.json").unlink(missing_ok=True)
    (ckpt / "latest").write_text(f"step-{CUT}\n")
    shutil.rmtree(to / "test-samples")
    return to


def samples(run: Path) -> dict[int, list]:
    """Per step, the samples the data-parallel ranks read, sorted by global index (the TP and PP
    ranks of one data-parallel rank read the same slice: it counts once)."""
    per_dp: dict[tuple[int, int], list] = {}
    for f in (run / "test-samples").glob("rank-*.jsonl"):
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            rows = [tuple(r) for r in rec["samples"]]
            assert per_dp.setdefault((rec["step"], rec["dp_rank"]), rows) == rows  # replicas agree
    out: dict[int, list] = {}
    for (step, _), rows in per_dp.items():
        out.setdefault(step, []).extend(rows)
    return {step: sorted(rows) for step, rows in out.items()}


def losses(run: Path) -> dict[int, float]:
    out = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec.get("context") == {"subset": "train"} and "loss" in rec.get("metrics", {}):
            out[rec["step"]] = rec["metrics"]["loss"]
    return out


def check_resume(ref: Path, resumed: Path, log: str, change: str, rel: float) -> None:
    want, got = samples(ref), samples(resumed)
    assert sorted(got) == list(range(CUT + 1, STEPS + 1))
    for step in got:
        indices = [i for i, _ in got[step]]
        # Each step reads the next global_batch samples of the one sequence, split over the ranks.
        assert indices == list(range(indices[0], indices[0] + len(indices))), (step, indices)
        assert got[step] == want[step], f"step {step}: samples differ from the unchanged run"
    ref_loss, new_loss = losses(ref), losses(resumed)
    for step in range(CUT + 1, STEPS + 1):
        assert new_loss[step] == pytest.approx(ref_loss[step], rel=rel), (
            step,
            new_loss[step],
            ref_loss[step],
        )
    events = [json.loads(line) for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert any(e.get("event") == "layout_change" for e in events)
    assert f"layout change: {change}" in log and "config changed" not in log


@pytest.mark.parametrize("zero", [1, 3])
def test_deepspeed_data_parallel_change(zero, mixture, tmp_path):
    for before, after in ((2, 1), (1, 2)):
        root = tmp_path / f"dp{before}"
        ref = reference(root, mixture, {"backend": "deepspeed", "zero_stage": zero, "dp": before}, before)
        run = cut_back(ref, root / "resumed")
        log = _train([str(run), "--nproc", str(after), f"parallel.dp={after}"], root, megatron=False)
        # Only the reduction order of the gradients differs between 1 and 2 ranks.
        check_resume(ref, run, log, f"parallel.dp {before} -> {after}", rel=1e-4)
        assert (run / "checkpoints" / f"step-{CUT}" / "deepspeed_universal").is_dir()


@pytest.mark.parametrize(
    ("before", "after", "nproc", "change"),
    [({"tp": 2}, {"tp": 1, "dp": 1}, 1, "parallel.tp 2 -> 1"), ({"pp": 1}, {"pp": 2, "dp": 1}, 2, "parallel.pp 1 -> 2")],
    ids=["tp2-to-tp1", "pp1-to-pp2"],
)  # fmt: skip
def test_megatron_model_parallel_change(before, after, nproc, change, mixture, tmp_path):
    parallel = {"backend": "megatron", "dp": 1, "distributed_optimizer": False, **before}
    world = parallel.get("tp", 1) * parallel.get("pp", 1)
    ref = reference(tmp_path, mixture, parallel, world)
    run = cut_back(ref, tmp_path / "resumed")
    overrides = [f"parallel.{k}={v}" for k, v in after.items()]
    log = _train([str(run), "--nproc", str(nproc), *overrides], tmp_path, megatron=True)
    check_resume(ref, run, log, change, rel=1e-5)


def test_batch_change_is_refused_before_any_rank_loads(mixture, tmp_path):
    ref = reference(tmp_path, mixture, {"backend": "deepspeed", "zero_stage": 1, "dp": 1}, 1)
    env = train_env(PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "llm_train.cli.main", "train", str(ref), "train.global_batch_size=4"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "train.global_batch_size" in proc.stderr and "allow_batch_change" in proc.stderr
    assert "rank" not in proc.stderr.lower() or "started" not in proc.stderr  # no rank was started
    cmd = [*cmd[:-1], "parallel.backend=megatron"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "parallel.backend" in proc.stderr and "export" in proc.stderr
