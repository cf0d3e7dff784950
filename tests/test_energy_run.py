"""Energy records of a real training run (DeepSpeed on CPU, 2 ranks): one per logged step and one
at the end, the fallback source on a machine without readable counters, and totals that continue
across a SIGKILL and resume instead of restarting."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evals.cli import main as eval_main
from llm_train.energy.rapl import RaplReader
from tests.helpers.tiny_packed import make_packed, write_experiment
from tests.test_tracking_aim import aim_points
from tests.test_trainer_resume import kill_after_checkpoint, run

pytestmark = [pytest.mark.slow, pytest.mark.distributed]
BASE_W, PUE, GRID = 50.0, 1.5, 250.0


def energy_records(run_dir: Path) -> list[dict]:
    out = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if (rec.get("context") or {}).get("subset") == "energy":
            out.append(rec)
    return out


def test_a_run_logs_energy_and_a_resume_continues_it(tmp_path):
    config = write_experiment(
        tmp_path,
        make_packed(tmp_path / "packed"),
        train={"steps": 6, "log_every": 2, "peak_tflops": 0.05},  # gives `plan` a time to estimate
        checkpoint={"every_steps": 3, "save_final": True},
        cluster={
            "hardware": {"node_base_power_w": BASE_W},
            "energy": {"pue": PUE, "grid_g_co2_per_kwh": GRID},
        },
        tracking={"aim": True, "aim_repo": str(tmp_path / "aim"), "system_metrics": False},
    )
    run_dir = tmp_path / "runs" / "t" / "e"
    kill_after_checkpoint(config, "e", run_dir, 3)
    before = energy_records(run_dir)
    assert [r["step"] for r in before] == [2]
    done = run(config, "e")
    assert done.returncode == 0, done.stderr[-3000:]
    records = energy_records(run_dir)
    assert [r["step"] for r in records] == [2, 4, 6, 6]  # the last one is written at the end

    # No NVML on a CPU run; RAPL where this machine lets us read it, else the profile's figure.
    source = "measured RAPL" if RaplReader.open()[0] else "estimated"
    for r in records:
        m = r["metrics"]
        assert r["context"] == {"subset": "energy", "source": source}
        assert (m["devices"], m["nodes"]) == (2, 1)  # 2 ranks, one node counted once
        assert m["energy_kwh"] == pytest.approx(m["it_energy_kwh"] * PUE)
        assert m["co2_kg"] == pytest.approx(m["energy_kwh"] * GRID / 1000)
        assert m["gpu_hours"] == pytest.approx(2 * m["wall_hours"], rel=0.25)
        if source == "estimated":  # exactly the node's figure over the run's wall time
            assert m["it_energy_kwh"] == pytest.approx(BASE_W * m["wall_hours"] / 1000, rel=1e-6)
    # A resume continues the totals: nothing ever goes down, the killed segment included.
    for key in ("gpu_hours", "wall_hours", "energy_kwh", "co2_kg"):
        values = [r["metrics"][key] for r in records]
        assert values == sorted(values) and values[0] > 0, key
    assert records[1]["metrics"]["wall_hours"] > before[0]["metrics"]["wall_hours"]

    # Aim holds the same series (the killed segment's points included), the newest value per step.
    points = aim_points(tmp_path / "aim")
    context = json.dumps({"subset": "energy", "source": source}, sort_keys=True)
    for key in ("energy_kwh", "co2_kg", "gpu_hours"):
        series = {step: v for (_, name, ctx, step), v in points.items() if name == key and ctx == context}
        assert sorted(series) == [2, 4, 6], key
        assert series[6] == pytest.approx(records[-1]["metrics"][key]), key

    state = json.loads((run_dir / "checkpoints" / "step-6" / "trainer_state.json").read_text())
    assert state["energy"]["wall_s"] >= records[1]["metrics"]["wall_hours"] * 3600

    # The eval report puts the last record beside `llm-train plan` for this config on 2 devices.
    assert eval_main(["report", str(run_dir), "--output", str(tmp_path / "report")]) == 0
    md = (tmp_path / "report" / "report.md").read_text()
    last = records[-1]["metrics"]
    for quantity, key in (("GPU-hours", "gpu_hours"), ("energy (kWh)", "energy_kwh"), ("CO2 (kg)", "co2_kg")):
        row = re.search(rf"\| t/e \| {re.escape(quantity)} \| ([^|]+) \| ([^|]+) \|", md)
        assert row and row.group(2).strip() == f"{last[key]:.4g}", quantity
        assert float(row.group(1)) > 0, quantity  # planned from the profile's node_base_power_w
    assert f"measured energy source: **{source}**" in md and "--gpus 2 --no-search" in md
