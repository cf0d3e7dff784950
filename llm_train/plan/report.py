"""Render a `Plan` as rich tables, or as one JSON document (`--json`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from llm_train.plan.planner import Candidate, Plan
from llm_train.plan.workload import GB


def _gb(x: float) -> str:
    return f"{x / GB:,.2f}"


def _dur(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.2f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _memory_table(plan: Plan, cand: Candidate, title: str) -> Table:
    cap = plan.devices.memory_gb
    table = Table(title=title, title_justify="left")
    table.add_column("per device", style="bold")
    table.add_column("GB", justify="right")
    mem = cand.memory
    rows = [
        ("weights", mem.weights),
        ("gradients", mem.grads),
        ("optimizer states", mem.optimizer),
        ("activations", mem.activations),
        ("logits + loss", mem.logits),
        ("transient (peak)", mem.transient),
        ("runtime reserve", mem.reserve),
    ]
    for name, value in rows:
        table.add_row(name, _gb(value))
    if mem.cpu_offloaded:
        table.add_row("offloaded to CPU", _gb(mem.cpu_offloaded), style="dim")
    verdict = "[green]fits[/]" if cand.fits(plan.devices) else "[red]does not fit[/]"
    headroom = cap - mem.total / GB
    table.add_row("total", _gb(mem.total), style="bold")
    table.add_row(f"capacity ({plan.devices.name})", f"{cap:,.2f}")
    table.add_row(
        "verdict", f"{verdict}, headroom {headroom:,.2f} GB ({headroom / cap:.0%})" if cap else verdict
    )
    return table


def _layouts_table(plan: Plan) -> Table:
    w = plan.workload
    table = Table(
        title=f"Top layouts ({len(plan.ranked)} fit of {plan.searched} tried)", title_justify="left"
    )
    for col in ("#", "layout", "mbs", "accum", "recompute", "mem GB", "step", "MFU", "bubble", "comm"):
        table.add_column(col, justify="right" if col not in ("layout", "recompute") else "left")
    peak = plan.devices.peak_tflops
    for i, c in enumerate(plan.ranked[: plan.options.top], 1):
        st = c.step
        comm = st.tp_comm + st.cp_comm + st.pp_comm + st.dp_comm
        known = plan.timing_known
        table.add_row(
            str(i),
            c.layout.short(),
            str(c.layout.micro_batch),
            str(c.layout.micro_batches_per_step(w.global_batch)),
            c.layout.recompute,
            _gb(c.memory.total),
            _dur(st.total) if known else "n/a",
            f"{st.mfu(plan.devices.count, peak):.1%}" if known and peak else "n/a",
            f"{st.bubble / st.total:.0%}",
            f"{comm / st.total:.0%}",
        )
    return table


def _cost_table(plan: Plan) -> Table:
    c = plan.cost
    assert c is not None
    table = Table(title="Time and cost", title_justify="left")
    table.add_column("", style="bold")
    table.add_column("value", justify="right")
    w = plan.workload
    table.add_row("tokens", f"{w.tokens:,} ({w.steps:,} steps of {w.tokens_per_step:,})")
    source = "given" if plan.options.mfu is not None else "modelled"
    table.add_row(f"MFU ({source})", f"{plan.mfu:.1%}")
    table.add_row("step time", _dur(plan.step_seconds or 0.0))
    table.add_row(f"wall time (goodput {plan.options.goodput:.0%})", _dur(c.wall_hours * 3600))
    table.add_row("GPU-hours", f"{c.gpu_hours:,.0f}")
    table.add_row("node-hours", f"{c.node_hours:,.0f}")
    table.add_row(
        "energy", f"{c.energy_kwh:,.0f} kWh" if c.energy_kwh is not None else "n/a (no gpu_power_w)"
    )
    table.add_row("CO2", f"{c.co2_tonnes:,.2f} t" if c.co2_tonnes is not None else "n/a")
    if c.budget_gpu_hours:
        frac = c.budget_fraction or 0.0
        style = "green" if frac <= 1 else "red"
        table.add_row("budget", f"[{style}]{frac:.0%} of {c.budget_gpu_hours:,.0f} GPU-hours[/]")
    return table


def render(plan: Plan, console: Console | None = None) -> None:
    console = console or Console()
    w, d = plan.workload, plan.devices
    console.print(
        f"[bold]{w.model.name}[/]: {plan.params / 1e9:.3f}B parameters "
        f"({plan.non_embedding_params / 1e9:.3f}B non-embedding), "
        f"{plan.flops_per_token / 1e9:,.2f} GFLOP/token at seq {w.seq_length} (6N + attention); "
        f"backend {w.backend}, {w.precision}"
    )
    peak = f"{d.peak_tflops:g} TFLOP/s peak" if d.peak_tflops else "peak unknown"
    console.print(f"devices: {d.count} x {d.name} ({d.memory_gb:g} GB, {peak}) on {d.nodes} node(s)")
    if plan.configured is not None:
        title = (
            f"Memory, configured layout: {plan.configured.layout.short()}, "
            f"mbs {plan.configured.layout.micro_batch}, recompute {plan.configured.layout.recompute}"
        )
        console.print(_memory_table(plan, plan.configured, title))
    if plan.configured_problem:
        console.print(f"[yellow]note:[/] {plan.configured_problem}")
    if plan.ranked:
        console.print(_layouts_table(plan))
        best = plan.ranked[0]
        if (
            best is not plan.configured
            and plan.configured is not None
            and best.layout != plan.configured.layout
        ):
            console.print(_memory_table(plan, best, f"Memory, best layout: {best.layout.short()}"))
        console.print("overrides for the best layout:\n  " + " ".join(best.layout.overrides()))
    elif plan.options.search:
        console.print("[red]No layout fits on these devices.[/]")
    for line in plan.suggestions:
        console.print(f"[yellow]hint:[/] {line}")
    if plan.cost is not None:
        console.print(_cost_table(plan))
    elif not plan.timing_known:
        console.print("time and cost: n/a (no peak TFLOP/s for these devices; set train.peak_tflops)")


def _cand(c: Candidate | None, plan: Plan) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "layout": c.layout.__dict__,
        "overrides": c.layout.overrides(),
        "memory_bytes": c.memory.as_dict(),
        "fits": c.fits(plan.devices),
        "step_seconds": c.step.as_dict() if plan.timing_known else None,
        "mfu": c.step.mfu(plan.devices.count, plan.devices.peak_tflops) if plan.timing_known else None,
    }


def to_json(plan: Plan) -> dict[str, Any]:
    w, d = plan.workload, plan.devices
    return {
        "model": w.model.name,
        "params": plan.params,
        "non_embedding_params": plan.non_embedding_params,
        "flops_per_token": plan.flops_per_token,
        "seq_length": w.seq_length,
        "global_batch": w.global_batch,
        "tokens": w.tokens,
        "steps": w.steps,
        "backend": w.backend,
        "devices": d.__dict__,
        "configured": _cand(plan.configured, plan),
        "configured_problem": plan.configured_problem,
        "layouts_tried": plan.searched,
        "layouts_fitting": len(plan.ranked),
        "top": [_cand(c, plan) for c in plan.ranked[: plan.options.top]],
        "mfu": plan.mfu,
        "step_seconds": plan.step_seconds,
        "cost": plan.cost.as_dict() if plan.cost else None,
        "goodput": plan.options.goodput,
        "suggestions": plan.suggestions,
    }
