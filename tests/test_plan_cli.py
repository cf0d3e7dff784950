"""`llm-train plan` end to end: tables for the shipped experiments, an impossible request, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_train.cli.plan import main
from llm_train.config import load_config
from llm_train.plan.cost import estimate_cost
from llm_train.plan.planner import PlanOptions, make_plan

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((ROOT / "configs" / "experiments").glob("*.yaml"))
SITES = ["juwels-booster", "jureca-dc", "jupiter", "lumi-g", "leonardo-booster", "marenostrum5-acc"]


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_plan_prints_tables_for_every_experiment(path, capsys):
    code = main([str(path), "--top", "3"])
    out = capsys.readouterr().out
    assert "weights" in out and "optimizer states" in out and "verdict" in out
    if code == 0:
        assert "Top layouts" in out and "overrides for the best layout" in out
    else:  # e.g. a 7B experiment on this machine's CPU profile: says so and what would fit
        assert code == 1 and "No layout fits" in out and "hint:" in out


def test_plan_on_a_site_prints_cost_and_budget(capsys):
    exp = str(ROOT / "configs/experiments/llama-7b-eu.yaml")
    assert main([exp, "--cluster", "juwels-booster", "--budget-gpu-hours", "1e9"]) == 0
    out = capsys.readouterr().out
    for word in ("GPU-hours", "node-hours", "kWh", "CO2", "budget"):
        assert word in out
    # The same plan against a tiny allocation is over budget: non-zero exit.
    assert main([exp, "--cluster", "juwels-booster", "--budget-gpu-hours", "1000"]) == 1


def test_70b_on_one_40gb_gpu_says_why_and_what_fits(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_TRAIN_CONFIGS", str(ROOT / "configs"))
    exp = tmp_path / "llama-70b.yaml"
    exp.write_text(
        "defaults:\n  - model: 70b\n  - train/pretrain.yaml\n  - cluster: juwels-booster\n"
        "name: llama-70b\nparallel: {backend: megatron}\n"
    )
    code = main([str(exp), "--gpus", "1"])
    out = " ".join(capsys.readouterr().out.split())  # undo rich's line wrapping
    assert code == 1
    assert "does not fit" in out and "No layout fits" in out
    assert "16 bytes/parameter" in out
    assert "It fits on 64 such devices (16 node(s))" in out
    presets = out.split("Model presets that fit on 1 device(s):")[1].split("(model=")[0]
    assert "125m" in presets and "70b" not in presets and "13b" not in presets


@pytest.mark.parametrize("site", SITES)
def test_best_layout_overrides_load_as_a_valid_config(site):
    exp = ROOT / "configs/experiments/llama-7b-eu.yaml"
    cfg = load_config(exp, cluster=site).config
    plan = make_plan(cfg, PlanOptions(top=3))
    assert plan.best is not None
    assert all(c.fits(plan.devices) and c.layout.world_size == plan.devices.count for c in plan.ranked)
    times = [round(c.step.total, 9) for c in plan.ranked]  # the ranking ties on 9 decimals
    assert times == sorted(times)
    reloaded = load_config(exp, plan.best.layout.overrides(), cluster=site).config
    assert reloaded.parallel.tp == plan.best.layout.tp and reloaded.parallel.dp == plan.best.layout.dp
    assert 0.2 < plan.mfu < 0.65


def test_json_output(capsys):
    exp = str(ROOT / "configs/experiments/llama-7b-eu.yaml")
    assert main([exp, "--cluster", "lumi-g", "--json", "--mfu", "0.4", "--goodput", "1.0"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["devices"]["per_node"] == 8 and doc["devices"]["memory_gb"] == 64
    assert doc["mfu"] == 0.4
    # With a given MFU and goodput 1, GPU-hours are exactly FLOPs / (MFU x peak).
    flops = doc["tokens"] * doc["flops_per_token"]
    expected = flops / (0.4 * 191.5e12) / 3600
    assert doc["cost"]["gpu_hours"] == pytest.approx(expected, rel=1e-3)
    assert doc["top"] and doc["top"][0]["fits"]


def test_energy_and_co2_arithmetic():
    cost = estimate_cost(
        3600,
        gpus=8,
        gpus_per_node=4,
        gpu_power_w=400,
        node_base_power_w=500,
        pue=1.5,
        grid_g_co2_per_kwh=200,
        goodput=0.5,
        budget_gpu_hours=32,
    )
    assert cost.wall_hours == pytest.approx(2.0)
    assert cost.gpu_hours == pytest.approx(16.0) and cost.node_hours == pytest.approx(4.0)
    assert cost.energy_kwh == pytest.approx((8 * 400 + 2 * 500) * 2 * 1.5 / 1000)
    assert cost.co2_tonnes == pytest.approx(cost.energy_kwh * 200 / 1e6)
    assert cost.budget_fraction == pytest.approx(0.5)
