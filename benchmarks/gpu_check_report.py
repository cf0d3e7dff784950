"""The GPU check's summary as Markdown: one row per step, its key numbers, and why a step failed."""

from __future__ import annotations

GB = 1e9


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _throughput(r: dict) -> str:
    text = (
        f"{r['tokens_per_s_per_gpu']:,.0f} tokens/s/GPU, {r['model_tflops_per_gpu']:,.1f} TFLOP/s/GPU, "
        f"MFU {_pct(r.get('mfu'))} (peak {r.get('peak_tflops')} TFLOP/s), step {r['step_seconds']:.3f} s"
    )
    extra = [f"{k} {r[k]}" for k in ("layer_impl", "recompute", "precision") if r.get(k) is not None]
    mem = r.get("memory", {})
    if mem.get("peak_allocated_bytes"):
        extra.append(f"peak {mem['peak_allocated_bytes'] / GB:.1f} GB allocated")
    return text + (f"; {', '.join(extra)}" if extra else "")


def _checkpoint(r: dict) -> str:
    b, a = r["before"], r["after"]
    equal = ", ".join(f"{k} {'bit-equal' if r['bit_equal'][k] else f'{b[k]:.6f} vs {a[k]:.6f}'}" for k in b)
    return (
        f"{'async' if r['asynchronous'] else 'SYNC (expected async)'} save of "
        f"{r['checkpoint_bytes'] / GB:.2f} GB: save call {r['save_call_seconds']:.2f} s, writers finished "
        f"{r['finalize_wait_seconds']:.2f} s after two more steps, load {r['load_seconds']:.2f} s; "
        f"losses before/after: {equal}"
    )


def _export(r: dict) -> str:
    parts = []
    for p in ("fp32", "bf16"):
        if p in r:
            c = r[p]
            parts.append(
                f"{p}: rel L2 {c['rel_l2']:.2e} (limit {r['limits'][p]:.0e}), max |diff| {c['max_abs']:.2e} "
                f"of max |logit| {c['ref_abs_max']:.2f}, top-1 agreement {c['top1_agreement']:.2%}"
            )
    return "; ".join(parts)


def _memory(r: dict) -> str:
    parts = []
    for key in ("a", "b"):
        e = r.get(key, {})
        if "ratio" in e:
            parts.append(
                f"({key}) {e['backend']}: measured {e['measured_bytes'] / GB:.2f} GB vs plan "
                f"{e['planned_bytes'] / GB:.2f} GB, ratio {e['ratio']:.2f}"
            )
        else:
            parts.append(f"({key}) {e.get('error', 'no result')}")
    return "; ".join(parts)


def _profile(r: dict) -> str:
    if "top_kernels" in r:
        top = ", ".join(f"{k['name'][:48]} {k['share_of_wall']:.0%}" for k in r["top_kernels"][:4])
        cats = ", ".join(
            f"{k} {v / r['wall_seconds']:.0%}" for k, v in list(r["by_category_seconds"].items())[:5]
        )
        return (
            f"GPU busy {r['gpu_busy_fraction']:.0%} of {r['wall_seconds']:.2f} s ({r['steps']} steps), idle gaps "
            f"{r['idle_gap_seconds']:.3f} s, exposed communication {r['exposed_communication_seconds']:.3f} s; "
            f"by kind: {cats}; top kernels: {top}"
        )
    top = ", ".join(f"{o['name'][:40]} {o['self_cpu_seconds']:.3f} s" for o in r.get("top_ops", [])[:4])
    return f"{r['wall_seconds']:.2f} s for {r['steps']} steps (CPU); top ops: {top}"


def _compile(r: dict) -> str:
    text = f"{r['compiler']}: first step {r['first_step_seconds']:.1f} s, then " + _throughput(r)
    if r.get("speedup_vs_b"):
        text += f"; {r['speedup_vs_b']:.2f}x the step of (b)"
    return text


DESCRIBE = {"a": _throughput, "b": _throughput, "c": _checkpoint, "d": _export, "e": _memory}
DESCRIBE.update(f1=_profile, f2=_compile)


def describe(step: dict) -> str:
    result = step.get("result")
    text = ""
    if result:
        try:
            text = DESCRIBE[step["key"]](result)
        except (KeyError, TypeError, ValueError) as exc:
            text = f"(result not readable: {type(exc).__name__}: {exc})"
    if step.get("first_try"):
        text = f"{step['first_try']}; {text}"
    if step.get("reason"):
        text = f"**{step['reason']}**" + (f"; {text}" if text else "")
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: dict) -> str:
    mode = "GPU run" if summary["mode"] == "gpu" else "CPU dry run (tiny preset, gloo, test shim)"
    env = summary.get("env", {}).get("result", {})
    lines = [f"# GPU check: {mode}", "", f"Started {summary['started']}; `{summary['command']}`."]
    if env:
        lines.append(
            f"Device: {env.get('device')} (driver {env.get('driver')}, CUDA {env.get('cuda')}, "
            f"peak bf16 {env.get('peak_bf16_tflops')} TFLOP/s from {env.get('peak_source')}); Python "
            f"{env.get('python')}, torch {env.get('torch')}, megatron-core {env.get('megatron.core')}, "
            f"DeepSpeed {env.get('deepspeed')}, transformers {env.get('transformers')}, "
            f"Transformer Engine {env.get('transformer_engine')}."
        )
    elif summary.get("env", {}).get("reason"):
        lines.append(f"Environment step failed: {summary['env']['reason']}")
    wheels = summary.get("wheelhouse")
    if wheels:
        lines.append(
            f"Wheelhouse: installed {', '.join(sorted(wheels['install'])) or 'nothing'}; "
            f"missing: {', '.join(wheels['missing']) or 'nothing'}."
        )
    steps = summary.get("steps", [])
    failed = [s["key"] for s in steps if s["status"] != "ok" and not s["key"].startswith("f")]
    verdict = "all of (a)-(e) passed" if summary.get("ok") else f"FAILED: {', '.join(failed) or 'unfinished'}"
    lines += [
        "",
        f"**Result: {verdict}** in {summary.get('elapsed_s', 0):.0f} s (budget {summary['budget_s']:.0f} s).",
        "",
    ]
    lines += ["| step | what | status | s | result |", "|---|---|---|---:|---|"]
    for s in steps:
        lines.append(
            f"| {s['key']} | {s['title']} | {s['status']} | {s.get('seconds', '')} | {describe(s)} |"
        )
    formula = next(
        (s["result"]["flops_formula"] for s in steps if "flops_formula" in s.get("result", {})), None
    )
    if formula:
        lines += ["", f"FLOP count: {formula} FLOP/token."]
    if env.get("fp8"):
        lines.append(f"FP8: {env['fp8']}.")
    logs = [f"`{s['log']}`" for s in steps if s["status"] != "ok" and s.get("log")]
    if logs:
        lines.append(f"Logs of the steps that did not pass: {', '.join(logs)}.")
    return "\n".join(lines) + "\n"
