"""Training-step throughput of the megatron backend: tokens/s/GPU and MFU.

Called by `benchmarks/train_step.py --backend megatron` (or directly, one process per GPU under
torchrun / srun): builds the backend from an experiment config, runs warm-up and timed steps on
random tokens, and reports from rank 0. MFU uses llm_train.model.spec.flops_per_token
(6N + attention), the accounting of Megatron-LM and PaLM.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import torch

from llm_train.config import load_config
from llm_train.launch.dist_env import detect
from llm_train.model.spec import flops_per_token


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
    from llm_train.backends.megatron_backend import MegatronBackend

    env = detect()
    backend = MegatronBackend(cfg, env)
    backend.build(total_steps=warmup + steps)
    per_step = backend.layout.micro_batches_per_step(cfg)
    batches = random_micro_batches(cfg, per_step, seed=backend.dp_rank)
    for _ in range(warmup):
        backend.train_step(batches)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        result = backend.train_step(batches)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    tokens_per_step = cfg.train.global_batch_size * cfg.train.seq_length
    tokens_per_gpu = tokens_per_step / seconds / env.world_size
    flops = flops_per_token(cfg.model, cfg.train.seq_length)
    peak = peak_tflops or cfg.train.peak_tflops
    report = {
        "backend": "megatron",
        "layout": dataclasses.asdict(backend.layout),
        "world_size": env.world_size,
        "step_seconds": seconds,
        "tokens_per_s_per_gpu": tokens_per_gpu,
        "model_tflops_per_gpu": tokens_per_gpu * flops / 1e12,
        "mfu": (tokens_per_gpu * flops / 1e12) / peak if peak else None,
        "params": backend.num_params(),
        "last_loss": result.loss,
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
    args = p.parse_args(argv)
    cfg = load_config(args.config, [*args.overrides, "parallel.backend=megatron"]).config
    report = run(cfg, args.warmup, args.steps, args.peak_tflops)
    if detect().is_main:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
