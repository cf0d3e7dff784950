"""`llm-train plan`: memory, parallel layout, time, GPU-hours and energy before anything is spent."""

from __future__ import annotations

import argparse
import json
import sys

from llm_train.config import load_config
from llm_train.plan.cost import DEFAULT_GOODPUT
from llm_train.plan.planner import PlanOptions, make_plan
from llm_train.plan.report import render, to_json


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llm-train plan", description=__doc__)
    p.add_argument("config", help="experiment YAML")
    p.add_argument("overrides", nargs="*", help="key.path=value overrides")
    p.add_argument("--cluster", help="cluster profile name or file (replaces the experiment's)")
    p.add_argument("--nodes", type=int, help="nodes of the allocation (default: cluster.nodes)")
    p.add_argument("--gpus", type=int, help="devices of the allocation (overrides --nodes)")
    p.add_argument(
        "--mfu", type=float, help="use this end-to-end MFU for time and cost (e.g. a measured one)"
    )
    p.add_argument(
        "--goodput", type=float, default=DEFAULT_GOODPUT, help="share of allocated time that trains"
    )
    p.add_argument("--budget-gpu-hours", type=float, help="compare the estimate with this allocation")
    p.add_argument("--pue", type=float, help="data-centre PUE (default: cluster.energy.pue)")
    p.add_argument("--grid-g-co2", type=float, help="grid intensity in gCO2/kWh (default: cluster profile)")
    p.add_argument("--top", type=int, default=5, help="layouts to show")
    p.add_argument("--no-offload", action="store_true", help="do not consider CPU offload layouts")
    p.add_argument("--no-search", action="store_true", help="only evaluate the configured layout")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_intermixed_args(argv)
    cfg = load_config(args.config, args.overrides, cluster=args.cluster).config
    opts = PlanOptions(
        gpus=args.gpus,
        nodes=args.nodes,
        mfu=args.mfu,
        goodput=args.goodput,
        budget_gpu_hours=args.budget_gpu_hours,
        pue=args.pue,
        grid_g_co2_per_kwh=args.grid_g_co2,
        top=args.top,
        allow_offload=not args.no_offload,
        search=not args.no_search,
    )
    plan = make_plan(cfg, opts)
    if args.json:
        json.dump(to_json(plan), sys.stdout, indent=2, default=str)
        print()
    else:
        render(plan)
    fits = plan.chosen is not None
    over_budget = plan.cost is not None and (plan.cost.budget_fraction or 0) > 1
    return 0 if fits and not over_budget else 1
