"""Steps of the GPU check that are not a throughput run, each run in its own process by gpu_check.py.

    python benchmarks/gpu_check_steps.py STEP --json OUT.json --work DIR --config CFG [key=value ...]

env        device, peak bf16 TFLOP/s of the device, library versions, Transformer Engine
checkpoint (c) async dist_checkpointing save while training goes on, then a load into a fresh
           backend: the losses after the load equal the losses before
export     (d) `llm-train export --to hf` of a trained checkpoint; logits of the HF model against the
           megatron model, in fp32 and in bf16
memory     (e) peak memory of the throughput runs (a, b) against `llm-train plan` for the same config
profile    (f) torch profiler over a few megatron steps: top kernels, communication, idle gaps
compile    (f) the DeepSpeed step with torch.compile
Everything runs on CUDA when there is a GPU and on CPU otherwise (the dry run: gloo, test shim).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(HERE), str(REPO)]
from megatron_step import random_micro_batches  # noqa: E402
from train_step import make_batches, peak_memory, synchronize, throughput_report, write_json  # noqa: E402

# Dense bf16 peak per device (vendor data sheets); checked in order, the first substring that the
# device name contains wins. H200 and GH200 have the H100 SXM's compute.
PEAK_BF16_TFLOPS = (
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H200", 989.0),
    ("H100", 989.0),
    ("A100", 312.0),
)
# Logit parity: relative L2 error of the HF logits against megatron's. fp32: both models compute
# the same math in another order; bf16: rounding of every activation (about 2^-8 each).
PARITY_LIMITS = {"fp32": 1e-4, "bf16": 3e-2}


def device() -> torch.device:
    return (
        torch.device("cuda", torch.cuda.current_device())
        if torch.cuda.is_available()
        else torch.device("cpu")
    )


def load_cfg(args: argparse.Namespace, *extra: str):
    from llm_train.config import load_config

    return load_config(args.config, [*args.overrides, *extra]).config


def run_cli(argv: list[str], timeout: float) -> None:
    """`llm-train ARGV` in its own process, as a user runs it; output goes to this step's log."""
    cmd = [sys.executable, "-m", "llm_train.cli.main", *argv]
    print("+ llm-train " + " ".join(argv), flush=True)
    subprocess.run(cmd, check=True, timeout=timeout, stdout=sys.stdout, stderr=sys.stderr)


def step_env(args: argparse.Namespace) -> dict:
    out: dict = {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda}
    out["cuda_available"] = torch.cuda.is_available()
    if out["cuda_available"]:
        props = torch.cuda.get_device_properties(0)
        out.update(
            device=props.name, device_memory_bytes=props.total_memory, device_count=torch.cuda.device_count()
        )
        out["capability"] = f"{props.major}.{props.minor}"
        out["driver"] = _nvidia_smi("driver_version")
        match = next(((k, v) for k, v in PEAK_BF16_TFLOPS if k in props.name), None)
        out["peak_bf16_tflops"] = match[1] if match else None
        out["peak_source"] = (
            f"data sheet ({match[0]})" if match else "unknown device: the config's train.peak_tflops"
        )
        out["bf16_supported"] = torch.cuda.is_bf16_supported()
    else:
        out.update(device="cpu", peak_bf16_tflops=None, peak_source="cpu: the config's train.peak_tflops")
    for module in ("megatron.core", "deepspeed", "transformers", "pydantic", "transformer_engine"):
        try:
            mod = __import__(module, fromlist=["__version__"])
            out[module] = getattr(mod, "__version__", "unknown")
        except Exception as exc:  # noqa: BLE001 - recorded: the steps that need it will fail
            out[module] = f"not importable: {type(exc).__name__}: {exc}"
    out["fp8"] = (
        "not run: needs Transformer Engine"
        if str(out["transformer_engine"]).startswith("not importable")
        else "not run: the megatron backend has no FP8 switch yet"
    )
    return out


def _nvidia_smi(field: str) -> str | None:
    try:
        proc = subprocess.run(
            ["nvidia-smi", f"--query-gpu={field}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return proc.stdout.strip().splitlines()[0] if proc.returncode == 0 and proc.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def _megatron(cfg):
    from llm_train.backends.megatron_backend import MegatronBackend
    from llm_train.launch.dist_env import detect

    backend = MegatronBackend(cfg, detect())
    backend.build()
    return backend


def _step(backend, micro_batches) -> float:
    """One optimizer step at the peak LR; the step's loss."""
    from llm_train.backends import run_step

    return run_step(backend, micro_batches, backend.cfg.train.lr).loss


def _release(backend) -> None:
    backend.close()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _losses(backend, batches) -> dict:
    """Eval loss on batch 2, then the train losses of batches 3 and 4 (the second one depends on
    the optimizer state: moments and step count)."""
    loss_sum, tokens = backend.eval_loss(batches[2])
    return {
        "eval": loss_sum / tokens,
        "train3": _step(backend, batches[3]),
        "train4": _step(backend, batches[4]),
    }


def step_checkpoint(args: argparse.Namespace) -> dict:
    from llm_train.backends import SaveState

    cfg = load_cfg(args, "parallel.backend=megatron", "checkpoint.async_save=true")
    ckpt = args.work / "checkpoint-async"
    backend = _megatron(cfg)
    layout = dataclasses.asdict(backend.layout)
    per_step = backend.layout.micro_batches_per_step(cfg.train.global_batch_size)
    batches = [random_micro_batches(cfg, per_step, seed=100 * backend.dp_rank + s) for s in range(5)]
    for mbs in batches[:2]:
        _step(backend, mbs)
    loss_sum, tokens = backend.eval_loss(batches[2])
    before = {"eval": loss_sum / tokens}
    t0 = time.perf_counter()
    pending = backend.save(ckpt) is SaveState.IN_BACKGROUND
    save_call = time.perf_counter() - t0
    # Training goes on while the shards are written (the state saved is the one at the save call).
    before["train3"] = _step(backend, batches[3])
    before["train4"] = _step(backend, batches[4])
    t0 = time.perf_counter()
    done = backend.finalize_saves(blocking=True)
    finalize_wait = time.perf_counter() - t0
    _release(backend)

    backend = _megatron(cfg)
    t0 = time.perf_counter()
    backend.load(ckpt)
    load_seconds = time.perf_counter() - t0
    after = _losses(backend, batches)
    _release(backend)
    # Forward losses must be bit-equal; the loss after one more update may differ by the order of
    # atomic adds in backward kernels, far below what a lost optimizer state would change.
    exact = {k: before[k] == after[k] for k in before}
    close = abs(before["train4"] - after["train4"]) <= 1e-4 * abs(before["train4"])
    problems = [] if pending else ["the save was not asynchronous"]
    problems += [] if done else ["the background save did not finish"]
    problems += [f"{k}: {before[k]!r} before, {after[k]!r} after" for k in ("eval", "train3") if not exact[k]]
    problems += [] if close else [f"train4: {before['train4']!r} before, {after['train4']!r} after (> 1e-4)"]
    return {
        "ok": not problems,
        "problem": "; ".join(problems) or None,
        "asynchronous": bool(pending),
        "before": before,
        "after": after,
        "bit_equal": exact,
        "save_call_seconds": save_call,
        "finalize_wait_seconds": finalize_wait,
        "load_seconds": load_seconds,
        "checkpoint_bytes": sum(f.stat().st_size for f in ckpt.rglob("*") if f.is_file()),
        "layout": layout,
        "distributed_optimizer": cfg.parallel.distributed_optimizer and torch.cuda.is_available(),
        "precision": cfg.train.precision,
    }


def megatron_logits(cfg, ckpt: Path, tokens: torch.Tensor) -> torch.Tensor:
    """Logits of the checkpoint's weights in a megatron GPTModel of cfg's precision (no optimizer:
    the CPU dry run can build a bf16 model, which the CPU training backend refuses)."""
    from llm_train.backends.megatron import checkpoint
    from llm_train.backends.megatron.model import build_gpt_chunks, transformer_config
    from llm_train.backends.megatron.parallel import destroy_parallel, init_parallel
    from llm_train.launch.dist_env import detect
    from llm_train.parallel import ParallelLayout
    from llm_train.parallel.runtime import have_transformer_engine

    env, use_te = detect(), have_transformer_engine()
    # Not resolve_layout: its rules refuse bf16 training on CPU, and this model does not train.
    layout = ParallelLayout.from_config(cfg, env.world_size)
    init_parallel(cfg, env, layout)
    chunks = build_gpt_chunks(cfg, transformer_config(cfg, layout, use_te), use_te)
    checkpoint.load(ckpt, [getattr(m, "module", m) for m in chunks], None)
    model = chunks[0].eval()  # Float16Module in bf16: returns the logits as fp32
    tokens = tokens.to(device())
    positions = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)
    with torch.no_grad():
        logits = model(input_ids=tokens, position_ids=positions, attention_mask=None).float().cpu()
    del model, chunks
    destroy_parallel()
    return logits


def hf_logits(hf_dir: Path, dtype: torch.dtype, tokens: torch.Tensor) -> torch.Tensor:
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(hf_dir, dtype=dtype, attn_implementation="sdpa")
    model = model.to(device()).eval()
    with torch.no_grad():
        logits = model(tokens.to(device())).logits.float().cpu()
    del model
    return logits


def compare(ref: torch.Tensor, got: torch.Tensor) -> dict:
    ref, got = ref.double(), got.double()
    diff = got - ref
    return {
        "rel_l2": float(diff.norm() / ref.norm()),
        "max_abs": float(diff.abs().max()),
        "mean_abs": float(diff.abs().mean()),
        "ref_abs_max": float(ref.abs().max()),
        "top1_agreement": float((got.argmax(-1) == ref.argmax(-1)).double().mean()),
    }


def step_export(args: argparse.Namespace) -> dict:
    # fp32 means fp32 on both sides: no TF32 matmuls (a 1e-3 relative error of their own).
    torch.set_float32_matmul_precision("highest")
    cfg = load_cfg(args, "parallel.backend=megatron", "checkpoint.async_save=false")
    ckpt, hf_dir = args.work / "checkpoint-export", args.work / "hf"
    backend = _megatron(cfg)
    _step(
        backend,
        random_micro_batches(cfg, backend.layout.micro_batches_per_step(cfg.train.global_batch_size), seed=1),
    )
    backend.save(ckpt)
    _release(backend)
    run_cli(["export", "--to", "hf", str(ckpt), str(hf_dir), "--dtype", "float32"], timeout=args.cli_timeout)
    gen = torch.Generator().manual_seed(7)
    tokens = torch.randint(0, cfg.model.vocab_size, (2, cfg.train.seq_length), generator=gen)
    out: dict = {
        "trained_precision": cfg.train.precision,
        "tokens": list(tokens.shape),
        "limits": PARITY_LIMITS,
    }
    fp32_ref = None
    for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        mcfg = load_cfg(args, "parallel.backend=megatron", f"train.precision={precision}")
        ref = megatron_logits(mcfg, ckpt, tokens)[..., : cfg.model.vocab_size]
        got = hf_logits(hf_dir, dtype, tokens)
        if got.shape != ref.shape:
            raise RuntimeError(f"{precision}: HF logits {tuple(got.shape)} vs megatron {tuple(ref.shape)}")
        out[precision] = compare(ref, got)
        fp32_ref = ref if fp32_ref is None else fp32_ref
        # Both sides may round alike (the same SDPA kernels): their distance from fp32 shows bf16 ran.
        out[precision]["vs_fp32_rel_l2"] = compare(fp32_ref, got)["rel_l2"]
    bad = [
        f"{p}: rel L2 {out[p]['rel_l2']:.2e} > {limit:.0e}"
        for p, limit in PARITY_LIMITS.items()
        if not out[p]["rel_l2"] <= limit
    ]
    out.update(ok=not bad, problem="; ".join(bad) or None)
    return out


def _plan_memory(report: dict, gpu: dict | None, timeout: float) -> dict:
    """`llm-train plan --json` of the configuration a throughput step measured."""
    argv = ["plan", report["config"], *report["overrides"], "--gpus", "1", "--no-search", "--json"]
    if gpu:
        argv += [
            "cluster.hardware.accelerator=nvidia",
            "cluster.hardware.gpus_per_node=1",
            f"cluster.hardware.gpu_memory_gb={gpu['device_total_bytes'] / 1e9:.2f}",
            f"cluster.hardware.gpu_name={json.dumps(gpu['device'])}",  # quoted: YAML reads the value
        ]
    cmd = [sys.executable, "-m", "llm_train.cli.main", *argv]
    print("+ llm-train " + " ".join(argv), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    sys.stderr.write(proc.stderr)
    if not proc.stdout.strip().startswith("{"):
        raise RuntimeError(f"llm-train plan printed no JSON (exit {proc.returncode}): {proc.stderr[-500:]}")
    return json.loads(proc.stdout)["configured"]["memory_bytes"]


def step_memory(args: argparse.Namespace) -> dict:
    out: dict = {}
    for key in ("a", "b"):
        path = args.json.parent / f"{key}.json"
        if not path.is_file():
            out[key] = {"error": f"no report from step {key}"}
            continue
        report = json.loads(path.read_text())
        mem = report["memory"]
        gpu = mem if mem.get("peak_allocated_bytes") is not None else None
        plan = _plan_memory(report, gpu, args.cli_timeout)
        entry = {"backend": report["backend"], "plan_bytes": plan}
        if gpu:
            # The plan's runtime reserve (CUDA context, NCCL) is memory the allocator never sees.
            planned = plan["total"] - plan["reserve"]
            entry.update(
                measured="torch.cuda.max_memory_allocated", measured_bytes=mem["peak_allocated_bytes"]
            )
            entry["reserved_bytes"] = mem["peak_reserved_bytes"]
        else:
            planned = plan["total"]
            entry.update(
                measured="process peak RSS (includes the Python runtime)", measured_bytes=mem["rss_bytes"]
            )
        entry["planned_bytes"] = planned
        entry["ratio"] = entry["measured_bytes"] / planned if planned else None
        out[key] = entry
    missing = [f"({k}) {out[k]['error']}" for k in ("a", "b") if "error" in out[k]]
    out.update(ok=not missing, problem="; ".join(missing) or None)
    return out


def _kernel_category(name: str) -> str:
    n = name.lower()
    for cat, pattern in (
        ("communication", r"nccl|allreduce|all_gather|reduce_scatter"),
        ("gemm", r"gemm|cutlass|nvjet|xmma|matmul|sm\d+_"),
        ("attention", r"flash|fmha|attention|softmax"),
        ("memcpy", r"memcpy|memset"),
        ("optimizer", r"adam|multi_tensor|foreach"),
    ):
        if re.search(pattern, n):
            return cat
    return "elementwise/other"


def _union_seconds(intervals: list[tuple[float, float]]) -> float:
    busy, end = 0.0, -math.inf
    for start, stop in sorted(intervals):
        if start > end:
            busy += stop - start
            end = stop
        elif stop > end:
            busy += stop - end
            end = stop
    return busy / 1e6  # profiler times are microseconds


def step_profile(args: argparse.Namespace) -> dict:
    from torch.profiler import ProfilerActivity, profile

    cfg = load_cfg(args, "parallel.backend=megatron")
    backend = _megatron(cfg)
    batches = random_micro_batches(
        cfg, backend.layout.micro_batches_per_step(cfg.train.global_batch_size), seed=0
    )
    for _ in range(args.warmup):
        _step(backend, batches)
    on_cuda = torch.cuda.is_available()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_cuda else [])
    synchronize()
    with profile(activities=activities) as prof:
        t0 = time.perf_counter()
        for _ in range(args.steps):
            _step(backend, batches)
        synchronize()
        wall = time.perf_counter() - t0
    _release(backend)
    kernels = [e for e in prof.events() if on_cuda and e.device_type.name == "CUDA"]
    out: dict = {"steps": args.steps, "wall_seconds": wall, "device": "cuda" if on_cuda else "cpu"}
    if kernels:
        per_name: dict[str, float] = {}
        per_cat: dict[str, float] = {}
        for e in kernels:
            per_name[e.name] = per_name.get(e.name, 0.0) + e.time_range.elapsed_us() / 1e6
            cat = _kernel_category(e.name)
            per_cat[cat] = per_cat.get(cat, 0.0) + e.time_range.elapsed_us() / 1e6
        busy = _union_seconds([(e.time_range.start, e.time_range.end) for e in kernels])
        comm = [e for e in kernels if _kernel_category(e.name) == "communication"]
        compute = [e for e in kernels if _kernel_category(e.name) != "communication"]
        compute_busy = _union_seconds([(e.time_range.start, e.time_range.end) for e in compute])
        top = sorted(per_name.items(), key=lambda kv: -kv[1])[:15]
        out.update(
            gpu_busy_fraction=busy / wall,
            idle_gap_seconds=wall - busy,  # the GPU ran nothing: host overhead, launches, syncs
            exposed_communication_seconds=busy - compute_busy,  # communication not under compute
            communication_kernel_seconds=sum(e.time_range.elapsed_us() for e in comm) / 1e6,
            by_category_seconds=dict(sorted(per_cat.items(), key=lambda kv: -kv[1])),
            top_kernels=[{"name": n[:120], "seconds": s, "share_of_wall": s / wall} for n, s in top],
        )
    else:
        ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:15]
        out["top_ops"] = [{"name": e.key[:120], "self_cpu_seconds": e.self_cpu_time_total / 1e6} for e in ops]
    out["ok"] = True
    return out


def step_compile(args: argparse.Namespace) -> dict:
    """The DeepSpeed step with torch.compile (DeepSpeed's engine.compile), against step (b)."""
    from llm_train.backends import build_backend
    from llm_train.launch.dist_env import detect

    cfg = load_cfg(args, "parallel.backend=deepspeed", "parallel.dp=1")
    backend = build_backend(cfg, detect())
    backend.build()
    # Inductor needs a C++/Triton toolchain; the CPU dry run checks the plumbing with "eager".
    compiler = "inductor" if torch.cuda.is_available() else "eager"
    backend.engine.compile(backend=compiler)
    batches = make_batches(cfg, cfg.train.global_batch_size // cfg.train.micro_batch_size)
    t0 = time.perf_counter()
    _step(backend, batches)
    synchronize()
    first = time.perf_counter() - t0
    for _ in range(max(args.warmup - 1, 0)):
        _step(backend, batches)
    times = []
    for _ in range(args.steps):
        synchronize()
        t0 = time.perf_counter()
        _step(backend, batches)
        synchronize()
        times.append(time.perf_counter() - t0)
    backend.close()
    peak = args.peak_tflops or cfg.train.peak_tflops
    out = {"compiler": compiler, "first_step_seconds": first, "median_step_seconds": statistics.median(times)}
    out.update(throughput_report(cfg, statistics.fmean(times), 1, peak))
    b = args.json.parent / "b.json"
    if b.is_file():
        out["speedup_vs_b"] = json.loads(b.read_text())["step_seconds"] / out["step_seconds"]
    out["memory"] = peak_memory()
    out["ok"] = True
    return out


STEPS = {
    "env": step_env,
    "checkpoint": step_checkpoint,
    "export": step_export,
    "memory": step_memory,
    "profile": step_profile,
    "compile": step_compile,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("step", choices=sorted(STEPS))
    p.add_argument("--json", type=Path, required=True, help="write the step's result here")
    p.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")))
    p.add_argument("--config", default=str(REPO / "configs/experiments/bench-1b-h100.yaml"))
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--peak-tflops", type=float, default=None)
    p.add_argument("--cli-timeout", type=float, default=120)
    p.add_argument("overrides", nargs="*")
    args = p.parse_intermixed_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    result = STEPS[args.step](args)
    write_json(args.json, result)
    print(json.dumps(result, indent=2, default=str))
    return 0 if result.get("ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
