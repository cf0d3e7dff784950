"""Planned vs measured GPU-hours, wall time, energy and CO2 of a run.

Measured: the run's newest energy record in metrics.jsonl (`llm_train.trainer.energy`). Planned:
`llm-train plan` for the run's resolved config.yaml with the world size it ran on, the tokens it
actually trained and the layout it used (no search), so the two columns describe the same work.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from evals.report.data import RunSeries
from llm_train.energy.totals import last_energy_record
from llm_train.plan.cost import Cost

QUANTITIES = ("GPU-hours", "wall hours", "energy (kWh)", "CO2 (kg)")


@dataclass
class PlannedVsMeasured:
    run: str
    source: str  # where the measured joules came from
    command: str  # the `llm-train plan` command that gives the planned column
    planned: dict[str, float | None]
    measured: dict[str, float | None]
    notes: list[str] = field(default_factory=list)


def _measured(metrics: dict) -> dict[str, float | None]:
    return dict(
        zip(
            QUANTITIES,
            (metrics.get(k) for k in ("gpu_hours", "wall_hours", "energy_kwh", "co2_kg")),
            strict=True,
        )
    )


def _planned(cost: Cost | None) -> dict[str, float | None]:
    if cost is None:
        return dict.fromkeys(QUANTITIES)
    co2 = None if cost.co2_tonnes is None else cost.co2_tonnes * 1000
    return dict(zip(QUANTITIES, (cost.gpu_hours, cost.wall_hours, cost.energy_kwh, co2), strict=True))


def planned_vs_measured(series: RunSeries) -> PlannedVsMeasured | None:
    """None when the run has no energy record (trained before energy was measured, or turned off)."""
    record = last_energy_record(series.run_dir / "metrics.jsonl")
    if record is None:
        return None
    metrics = record["metrics"]
    devices = int(metrics.get("devices") or 0)
    tokens = series.train_loss[-1][0] if series.train_loss else 0
    config = series.run_dir / "config.yaml"
    command = shlex.join(
        ["llm-train", "plan", str(config), "--gpus", str(devices), "--no-search"]
        + ["train.steps=null", f"train.tokens={tokens}"]
    )
    out = PlannedVsMeasured(
        series.name,
        (record.get("context") or {}).get("source", "?"),
        command,
        _planned(None),
        _measured(metrics),
    )
    if "energy_kwh" not in metrics:
        out.notes.append(
            "measured energy unavailable: no NVML or RAPL counter was readable and the cluster profile "
            "states no cluster.hardware.gpu_power_w / node_base_power_w"
        )
    if devices < 1 or tokens < 1:
        out.notes.append("no plan: the run has not logged a trained step yet")
        return out
    try:
        plan, pue = _plan(series, devices, tokens)
    except Exception as exc:  # noqa: BLE001 - a report shows what it can; the reason is printed
        out.notes.append(f"no plan: {type(exc).__name__}: {exc}")
        return out
    out.planned = _planned(plan.cost)
    if plan.cost is None:
        why = plan.configured_problem or "no peak TFLOP/s for these devices (set train.peak_tflops)"
        out.notes.append(f"no planned time: {why}")
    elif plan.cost.energy_kwh is None:
        out.notes.append("no planned energy: the cluster profile states no gpu_power_w / node_base_power_w")
    else:
        out.notes.append(f"the plan counts allocation time at goodput {plan.options.goodput:g}, PUE {pue:g}")
    return out


def _plan(series: RunSeries, devices: int, tokens: int):
    from evals.settings import load_run_config
    from llm_train.plan.planner import PlanOptions, make_plan

    cfg = load_run_config(series.run_dir)
    if cfg is None:
        raise FileNotFoundError(f"{series.run_dir / 'config.yaml'} not found")
    train = cfg.train.model_copy(update={"steps": None, "tokens": tokens})
    cfg = cfg.model_copy(update={"train": train})
    return make_plan(cfg, PlanOptions(gpus=devices, search=False)), cfg.cluster.energy.pue
