"""Step time of our training backend vs a plain transformers + torch.optim.AdamW loop, same process.

Same model (built from the spec with the same seed), same global batch of random tokens, same
micro batches / gradient accumulation, same threads, same clipping. Runs are interleaved in rounds
so machine noise hits both sides alike; the median step time of each side is compared.

    python benchmarks/train_step.py [--backend deepspeed] [--steps 10] [--threads 2] [key=value ...]

MFU formula printed and used: MFU = flops_per_token x tokens/s per device / peak FLOP/s per device,
flops_per_token = 6 x (layer params + vocab x hidden) + 12 x layers x hidden x seq (PaLM app. B).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(REPO / "configs/experiments/demo-cpu.yaml"))
    p.add_argument("--backend", default="deepspeed", help="a name from llm_train.backends.BACKENDS")
    p.add_argument("--steps", type=int, default=10, help="measured steps per side")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--peak-tflops", type=float, default=None, help="per-device peak for the MFU column")
    p.add_argument("overrides", nargs="*")
    return p.parse_args()


def make_batches(cfg, gas: int, seed: int = 0):
    import torch

    t, vocab = cfg.train, cfg.model.vocab_size
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(gas):
        tokens = torch.randint(0, vocab, (t.micro_batch_size, t.seq_length), generator=g)
        out.append(
            {
                "tokens": tokens,
                "labels": torch.roll(tokens, -1, 1),
                "loss_mask": torch.ones(t.micro_batch_size, t.seq_length),
                "position_ids": torch.arange(t.seq_length).repeat(t.micro_batch_size, 1),
            }
        )
    return out


class PlainLoop:
    """The reference: what a user would write by hand with transformers + torch.optim.AdamW."""

    def __init__(self, cfg):
        import torch

        from llm_train.backends.hf_llama import build_llama, optimizer_param_groups

        t = cfg.train
        self.cfg, self.torch = cfg, torch
        self.model = build_llama(cfg.model, seed=t.seed).train()
        self.opt = torch.optim.AdamW(
            optimizer_param_groups(self.model, t.weight_decay),
            lr=t.lr,
            betas=(t.adam_beta1, t.adam_beta2),
            eps=t.adam_eps,
        )

    def step(self, micro_batches) -> float:
        from llm_train.backends.deepspeed_backend import token_nll

        total = 0.0
        for batch in micro_batches:
            nll, count = token_nll(self.model, batch)
            loss = nll / count / len(micro_batches)
            loss.backward()
            total += loss.item()
        if self.cfg.train.grad_clip:
            self.torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.grad_clip)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return total


def main() -> int:
    args = parse()
    if args.backend == "megatron":
        # GPU path: megatron-core's own schedules and optimizer, no plain-loop comparison (see
        # benchmarks/megatron_step.py); run under torchrun/srun for more than one GPU.
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from megatron_step import main as megatron_main

        extra = ["--peak-tflops", str(args.peak_tflops)] if args.peak_tflops else []
        return megatron_main(
            [
                args.config,
                "parallel.dp=auto",
                *args.overrides,
                "--steps",
                str(args.steps),
                "--warmup",
                str(args.warmup),
                *extra,
            ]
        )
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from llm_train.backends import build_backend
    from llm_train.config import load_config
    from llm_train.launch.dist_env import detect
    from llm_train.model.spec import flops_per_token, param_counts

    overrides = ["parallel.dp=1", f"parallel.backend={args.backend}", *args.overrides]
    cfg = load_config(args.config, overrides).config
    backend = build_backend(cfg, detect())
    backend.build(args.warmup + args.steps + 1)
    gas = cfg.train.global_batch_size // cfg.train.micro_batch_size
    batches = make_batches(cfg, gas)
    plain = PlainLoop(cfg)
    times: dict[str, list[float]] = {"plain": [], args.backend: []}
    sides = {"plain": lambda: plain.step(batches), args.backend: lambda: backend.train_step(batches)}
    for i in range(args.warmup + args.steps):
        for name, fn in sides.items():
            t0 = time.perf_counter()
            fn()
            if i >= args.warmup:
                times[name].append(time.perf_counter() - t0)
    tokens = cfg.train.global_batch_size * cfg.train.seq_length
    fpt = flops_per_token(cfg.model, cfg.train.seq_length)
    print(
        f"model {cfg.model.name}: {param_counts(cfg.model).total:,} params; batch {cfg.train.global_batch_size} x "
        f"{cfg.train.seq_length} tokens, micro {cfg.train.micro_batch_size} (grad accum {gas}); "
        f"{args.threads} threads; {cfg.train.precision}; ZeRO-{cfg.parallel.zero_stage}"
    )
    print(
        f"MFU = flops_per_token x tokens/s per device / peak FLOP/s per device; flops_per_token = "
        f"6 x (layer params + vocab x hidden) + 12 x layers x hidden x seq = {fpt:,.0f}"
    )
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name, med in medians.items():
        mfu = f", MFU {tokens / med * fpt / (args.peak_tflops * 1e12):.2%}" if args.peak_tflops else ""
        print(
            f"{name:>10}: median {med * 1000:8.1f} ms/step (min {min(times[name]) * 1000:.1f}), "
            f"{tokens / med:,.0f} tokens/s, {tokens / med * fpt / 1e12:.4f} TFLOP/s{mfu}"
        )
    overhead = medians[args.backend] / medians["plain"] - 1
    print(f"overhead of {args.backend} vs plain: {overhead:+.1%} (target < 10%)")
    backend.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
