"""Step time of our training backend vs a plain transformers + torch.optim.AdamW loop, same process.

Same model (built from the spec with the same seed), same global batch of random tokens, same
micro batches / gradient accumulation, same threads, same clipping. Runs are interleaved in rounds
so machine noise hits both sides alike; the median step time of each side is compared.
`--no-plain` times the backend alone (the GPU throughput run: a second 1B model in fp32 would not
fit beside it and would take minutes per step).

    python benchmarks/train_step.py [--backend deepspeed] [--steps 10] [--threads 2] [--json F] [key=value ...]

The throughput report (tokens/s, TFLOP/s and MFU per device) is made by `throughput_report` here,
for both backends (benchmarks/megatron_step.py imports it), with the one FLOP count of
`llm_train.model.spec.flops_per_token`:
MFU = flops_per_token x tokens/s per device / peak FLOP/s per device,
flops_per_token = 6 x (layer params + vocab x hidden) + 12 x layers x hidden x seq (PaLM app. B).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLOPS_FORMULA = (
    "MFU = flops_per_token x tokens/s per device / peak FLOP/s per device; flops_per_token = "
    "6 x (layer params + vocab x hidden) + 12 x layers x hidden x seq"
)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(REPO / "configs/experiments/demo-cpu.yaml"))
    p.add_argument("--backend", default="deepspeed", help="a name from llm_train.backends.BACKENDS")
    p.add_argument("--steps", type=int, default=10, help="measured steps per side")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--peak-tflops", type=float, default=None, help="per-device peak for the MFU column")
    p.add_argument("--no-plain", action="store_true", help="time the backend only, no reference loop")
    p.add_argument(
        "--watchdog",
        action="store_true",
        help="also time the backend with the trainer's hang watchdog running (its per-step overhead)",
    )
    p.add_argument("--json", type=Path, help="also write the report (rank 0) to this file")
    p.add_argument("overrides", nargs="*")
    return p.parse_args(argv)


def synchronize() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_memory() -> dict:
    """Peak memory of this process: the CUDA caching allocator's on a GPU, else the process RSS."""
    import torch

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    if not torch.cuda.is_available():
        return {"device": "cpu", "peak_allocated_bytes": None, "peak_reserved_bytes": None, "rss_bytes": rss}
    free, total = torch.cuda.mem_get_info()
    return {
        "device": torch.cuda.get_device_name(),
        "peak_allocated_bytes": torch.cuda.max_memory_allocated(),
        "peak_reserved_bytes": torch.cuda.max_memory_reserved(),
        "device_used_now_bytes": total - free,  # all processes, including the CUDA context
        "device_total_bytes": total,
        "rss_bytes": rss,
    }


def throughput_report(cfg, step_seconds: float, devices: int, peak_tflops: float | None) -> dict:
    """tokens/s, model TFLOP/s and MFU per device for one optimizer step of the global batch."""
    from llm_train.model.spec import flops_per_token

    tokens = cfg.train.global_batch_size * cfg.train.seq_length
    per_device = tokens / step_seconds / devices
    fpt = flops_per_token(cfg.model, cfg.train.seq_length)
    tflops = per_device * fpt / 1e12
    return {
        "step_seconds": step_seconds,
        "tokens_per_step": tokens,
        "tokens_per_s_per_gpu": per_device,
        "flops_per_token": fpt,
        "model_tflops_per_gpu": tflops,
        "peak_tflops": peak_tflops,
        "mfu": tflops / peak_tflops if peak_tflops else None,
        "flops_formula": f"{FLOPS_FORMULA} = {fpt:,.0f}",
    }


def write_json(path: Path, data: dict) -> None:
    """Atomically (temp file + rename): a reader never sees half a report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


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
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = build_llama(cfg.model, seed=t.seed).to(self.device).train()
        self.opt = torch.optim.AdamW(
            optimizer_param_groups(self.model, t.weight_decay, self.cfg.model.tie_embeddings),
            lr=t.lr,
            betas=(t.adam_beta1, t.adam_beta2),
            eps=t.adam_eps,
        )

    def step(self, micro_batches) -> float:
        from llm_train.backends.deepspeed_backend import token_nll

        total = 0.0
        for batch in micro_batches:
            batch = {k: v.to(self.device) for k, v in batch.items()}
            nll, count = token_nll(self.model, batch)
            loss = nll / count / len(micro_batches)
            loss.backward()
            total += loss.item()
        if self.cfg.train.grad_clip:
            self.torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.grad_clip)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return total


def watched_step(cfg, backend, batches):
    """The backend's step with the hang watchdog's thread running and its beat after every step,
    as the trainer runs them (the watchdog's cost per step is this side's time minus the plain one)."""
    import tempfile
    from types import SimpleNamespace

    from llm_train.backends import run_step
    from llm_train.launch.dist_env import detect
    from llm_train.run_dir import RunDir
    from llm_train.trainer.watchdog import HangWatchdog

    dog = HangWatchdog()
    dog.pre_train(SimpleNamespace(cfg=cfg, run=RunDir(tempfile.mkdtemp()), dist=detect(), step=0))
    count = iter(range(1, 1 << 30))

    def step() -> float:
        t0 = time.perf_counter()
        loss = run_step(backend, batches, cfg.train.lr).loss
        dog.post_step(None, next(count), None, {"step_time_s": time.perf_counter() - t0})
        return loss

    return step


def run_megatron(args: argparse.Namespace) -> int:
    # megatron-core's own schedules and optimizer, no plain-loop comparison (see
    # benchmarks/megatron_step.py); run under torchrun/srun for more than one GPU.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from megatron_step import main as megatron_main

    extra = ["--peak-tflops", str(args.peak_tflops)] if args.peak_tflops else []
    extra += ["--json", str(args.json)] if args.json else []
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


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.backend == "megatron":
        return run_megatron(args)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from llm_train.backends import build_backend, run_step
    from llm_train.config import load_config
    from llm_train.launch.dist_env import detect
    from llm_train.model.spec import param_counts

    overrides = ["parallel.dp=1", f"parallel.backend={args.backend}", *args.overrides]
    cfg = load_config(args.config, overrides).config
    backend = build_backend(cfg, detect())
    backend.build()
    gas = cfg.train.global_batch_size // cfg.train.micro_batch_size
    batches = make_batches(cfg, gas)
    # Every step at the peak LR: the schedule does not change the work of a step.
    sides = {args.backend: lambda: run_step(backend, batches, cfg.train.lr).loss}
    if args.watchdog:
        sides[f"{args.backend}+watchdog"] = watched_step(cfg, backend, batches)
    if not args.no_plain:
        plain = PlainLoop(cfg)
        sides = {"plain": lambda: plain.step(batches), **sides}
    times: dict[str, list[float]] = {name: [] for name in sides}
    losses: dict[str, float] = {}
    for i in range(args.warmup + args.steps):
        for name, fn in sides.items():
            synchronize()
            t0 = time.perf_counter()
            losses[name] = fn()
            synchronize()
            if i >= args.warmup:
                times[name].append(time.perf_counter() - t0)
    peak = args.peak_tflops or cfg.train.peak_tflops or cfg.cluster.hardware.peak_bf16_tflops
    print(
        f"model {cfg.model.name}: {param_counts(cfg.model).total:,} params; batch {cfg.train.global_batch_size} x "
        f"{cfg.train.seq_length} tokens, micro {cfg.train.micro_batch_size} (grad accum {gas}); "
        f"{args.threads} threads; {cfg.train.precision}; ZeRO-{cfg.parallel.zero_stage}"
    )
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name, med in medians.items():
        r = throughput_report(cfg, med, 1, peak)
        mfu = f", MFU {r['mfu']:.2%}" if r["mfu"] is not None else ""
        print(
            f"{name:>10}: median {med * 1000:8.1f} ms/step (min {min(times[name]) * 1000:.1f}), "
            f"{r['tokens_per_s_per_gpu']:,.0f} tokens/s, {r['model_tflops_per_gpu']:.4f} TFLOP/s{mfu}"
        )
    print(throughput_report(cfg, medians[args.backend], 1, peak)["flops_formula"])
    if args.watchdog:
        watched, bare = medians[f"{args.backend}+watchdog"], medians[args.backend]
        print(f"hang watchdog overhead: {(watched - bare) / bare:+.2%} per step (median, interleaved rounds)")
    report = {
        "backend": args.backend,
        "config": args.config,
        "overrides": overrides,
        "zero_stage": cfg.parallel.zero_stage,
        "precision": cfg.train.precision,
        "world_size": 1,
        "steps": args.steps,
        "warmup": args.warmup,
        "step_seconds_all": times[args.backend],
        "median_step_seconds": medians[args.backend],
        # Throughput from the mean step time, as megatron_step.py reports it.
        **throughput_report(cfg, statistics.fmean(times[args.backend]), 1, peak),
        "params": backend.num_params(),
        "last_loss": losses[args.backend],
        "memory": peak_memory(),
    }
    if "plain" in medians:
        overhead = medians[args.backend] / medians["plain"] - 1
        report["overhead_vs_plain"] = overhead
        print(f"overhead of {args.backend} vs plain: {overhead:+.1%} (target < 10%)")
    if args.json:
        write_json(args.json, report)
    backend.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
