"""`benchmarks/train_step.py --backend megatron` runs end to end (on CPU through the test shim).

The GPU measurement itself needs a GPU; this keeps the script's code path working: layout, build,
timed steps and the MFU report with the FLOP accounting of `llm_train.model.spec`.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llm_train.config import load_config
from llm_train.model.spec import flops_per_token, param_counts
from tests.helpers.tiny_packed import REPO, megatron_shim_env

pytestmark = [pytest.mark.slow, pytest.mark.distributed]

OVERRIDES = ["parallel.tp=2", "parallel.distributed_optimizer=false", "train.precision=fp32"]


def test_megatron_step_benchmark_reports_mfu():
    env = megatron_shim_env()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29613"]
    cmd += [str(REPO / "benchmarks" / "train_step.py"), "--backend", "megatron", "--steps", "1"]
    cmd += ["--warmup", "1", "--peak-tflops", "0.5", *OVERRIDES]
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout[proc.stdout.index("{") : proc.stdout.rindex("}") + 1])

    cfg = load_config(
        str(REPO / "configs/experiments/demo-cpu.yaml"), [*OVERRIDES, "parallel.backend=megatron"]
    )
    cfg = cfg.config
    assert report["layout"]["tp"] == 2 and report["world_size"] == 2
    assert report["params"] == param_counts(cfg.model).total
    tokens = cfg.train.global_batch_size * cfg.train.seq_length
    assert report["tokens_per_s_per_gpu"] == pytest.approx(tokens / report["step_seconds"] / 2)
    tflops = report["tokens_per_s_per_gpu"] * flops_per_token(cfg.model, cfg.train.seq_length) / 1e12
    assert report["model_tflops_per_gpu"] == pytest.approx(tflops)
    assert report["mfu"] == pytest.approx(tflops / 0.5)
    assert report["flops_formula"].endswith(f"= {flops_per_token(cfg.model, cfg.train.seq_length):,.0f}")
    assert len(report["step_seconds_all"]) == 1 and report["memory"]["rss_bytes"] > 0
    assert report["layer_impl"] == "local" and 0 < report["last_loss"] < 20
