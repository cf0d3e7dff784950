"""Training-step throughput of the megatron backend: tokens/s/GPU and MFU.

Called by `benchmarks/train_step.py --backend megatron` (or directly, one process per GPU under
torchrun / srun): builds the backend from an experiment config, runs warm-up and timed steps on
random tokens, and reports from rank 0. The report is train_step.throughput_report (one FLOP
count for every backend: llm_train.model.spec.flops_per_token, 6N + attention, the accounting of
Megatron-LM and PaLM), plus the layout, the layer implementation and the peak memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import peak_memory, synchronize, throughput_report, write_json  # noqa: E402

from llm_train.config import load_config  # noqa: E402
from llm_train.launch.dist_env import detect  # noqa: E402


def random_micro_batches(cfg, count: int, seed: int) -> list[dict]:
    t = cfg.train
    gen = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        data = torch.randint(0, cfg.model.vocab_size, (t.micro_batch_size, t.seq_length + 1), generator=gen)
        batches.append(
            {
                "tokens": data[:, :-1].contiguous(),
                "labels": data[:, 1:].contiguous(),
                "loss_mask": torch.ones(t.micro_batch_size, t.seq_length),
                "position_ids": torch.arange(t.seq_length).expand(t.micro_batch_size, -1).contiguous(),
            }
        )
    return batches


def run(cfg, warmup: int, steps: int, peak_tflops: float | None) -> dict:
    from llm_train.backends import run_step
    from llm_train.backends.megatron_backend import MegatronBackend

    env = detect()
    backend = MegatronBackend(cfg, env)
    backend.build()
    per_step = backend.layout.micro_batches_per_step(cfg.train.global_batch_size)
    batches = random_micro_batches(cfg, per_step, seed=backend.dp_rank)
    # Every step at the peak LR: the schedule does not change the work of a step.
    lr = cfg.train.lr
    for _ in range(warmup):
        run_step(backend, batches, lr)
    times = []
    for _ in range(steps):
        synchronize()
        start = time.perf_counter()
        result = run_step(backend, batches, lr)
        synchronize()
        times.append(time.perf_counter() - start)
    peak = peak_tflops or cfg.train.peak_tflops or cfg.cluster.hardware.peak_bf16_tflops
    report = {
        "backend": "megatron",
        "layout": dataclasses.asdict(backend.layout),
        # Transformer Engine layers (fused, flash attention) or megatron's local layers, whose
        # core attention is unfused (it keeps the seq x seq probabilities for backward).
        "layer_impl": "transformer_engine" if backend.use_te else "local",
        "precision": cfg.train.precision,
        "distributed_optimizer": cfg.parallel.distributed_optimizer and torch.cuda.is_available(),
        "recompute": cfg.parallel.recompute,
        "world_size": env.world_size,
        "steps": steps,
        "warmup": warmup,
        "step_seconds_all": times,
        "median_step_seconds": statistics.median(times),
        **throughput_report(cfg, statistics.fmean(times), env.world_size, peak),
        "params": backend.num_params(),
        "last_loss": result.loss,
        "memory": peak_memory(),
    }
    backend.close()
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("config", help="experiment config (YAML)")
    p.add_argument("overrides", nargs="*", help="key.path=value overrides")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--peak-tflops", type=float, default=None, help="per-GPU peak (bf16 dense) for MFU")
    p.add_argument("--json", type=Path, help="also write the report (rank 0) to this file")
    args = p.parse_args(argv)
    overrides = [*args.overrides, "parallel.backend=megatron"]
    cfg = load_config(args.config, overrides).config
    report = run(cfg, args.warmup, args.steps, args.peak_tflops)
    report.update(config=args.config, overrides=overrides)
    if detect().is_main:
        print(json.dumps(report, indent=2))
        if args.json:
            write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
