"""`eval report`: Markdown plus PNG plots of loss, BPB per language and task accuracy vs tokens."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
from matplotlib import image

from evals.cli import main as eval_main
from llm_train.config.loader import dump_yaml
from tests.test_eval_support import world


def _ink(png) -> float:
    """Share of pixels that are not background white."""
    pixels = image.imread(str(png))[..., :3]
    return float((pixels.min(axis=-1) < 0.9).mean())


def test_report_overlays_runs_and_renders_curves(tmp_path):
    w = world(tmp_path, steps=(10, 20, 30))
    run1 = w["run_dir"]
    args = ["--all", "--max-docs", "2", "--languages", "de,fr", "--no-track"]
    assert eval_main(["run", str(run1), *args]) == 0
    run2 = run1.parent / "run2"
    shutil.copytree(run1, run2, ignore=shutil.ignore_patterns("evals"))
    assert eval_main(["run", str(run2), "--step", "20", *args[1:]]) == 0

    out = tmp_path / "report"
    assert eval_main(["report", str(run1), str(run2), "--output", str(out)]) == 0
    md = (out / "report.md").read_text()
    for png in ("loss_vs_tokens.png", "bpb_vs_tokens.png", "tasks_vs_tokens.png"):
        assert f"]({png})" in md
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert _ink(out / png) > 0.01  # axes, labels and curves, not an empty canvas
    assert "| evaltest/run1 | 30 | 7,680 |" in md  # newest checkpoint, tokens = 30 * 4 * 64
    assert "| evaltest/run2 | 20 | 5,120 |" in md
    assert "| continuation | de |" in md

    # One run, one checkpoint fewer: the BPB plot changes (the curves come from the records).
    single = tmp_path / "single"
    assert eval_main(["report", str(run2), "--output", str(single)]) == 0
    a = image.imread(str(out / "bpb_vs_tokens.png"))
    b = image.imread(str(single / "bpb_vs_tokens.png"))
    assert a.shape != b.shape or not np.array_equal(a, b)


def test_report_of_a_run_without_evals_says_so(tmp_path):
    w = world(tmp_path, steps=())
    assert eval_main(["report", str(w["run_dir"])]) == 0
    md = (w["run_dir"] / "evals" / "report" / "report.md").read_text()
    assert "_no data yet_" in md and (w["run_dir"] / "evals" / "report" / "loss_vs_tokens.png").is_file()


def _energy_run(root, name: str, cluster: str, totals=None, extra: str = "parallel: {dp: 2}\n"):
    """A run dir with the resolved config of a tiny model on `cluster`, two logged train steps and,
    given `totals`, the energy record the trainer writes (same writer, same record builder)."""
    from llm_train.config.loader import load_config
    from llm_train.energy.totals import source_label, to_metrics
    from llm_train.tracking.jsonl import JsonlWriter

    experiment = root / f"{name}.yaml"
    experiment.write_text(
        f"defaults: [{{model: tiny}}, {{cluster: {cluster}}}]\nname: energytest\n"
        "train: {steps: 100, seq_length: 64, global_batch_size: 8, micro_batch_size: 1}\n" + extra
    )
    cfg = load_config(experiment, configs_root=Path(__file__).resolve().parents[1] / "configs").config
    run_dir = root / "runs" / "energytest" / name
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(dump_yaml(cfg))
    writer = JsonlWriter(run_dir / "metrics.jsonl")
    for step in (10, 20):
        writer.log(step, {"loss": 5.0, "consumed_samples": step * 8}, {"subset": "train"})
    if totals is not None:
        e = cfg.cluster.energy
        metrics = to_metrics(totals, e.pue, e.grid_g_co2_per_kwh)
        writer.log(20, metrics, {"subset": "energy", "source": source_label(totals)})
    writer.close()
    return run_dir


def test_report_shows_planned_vs_measured_gpu_hours_energy_and_co2(tmp_path, capsys):
    from llm_train.cli.plan import main as plan_main
    from llm_train.energy.totals import EnergyTotals

    measured = EnergyTotals(
        gpu_measured_j=2.0e6,
        node_measured_j=0.5e6,
        device_s=2400,
        wall_s=600,
        devices=4,
        gpus_nvml=4,
        nodes_rapl=1,
    )
    gpu = _energy_run(tmp_path, "gpu", "juwels-booster", measured, "cluster: {nodes: 1}\nparallel: {dp: 4}\n")
    cpu = _energy_run(
        tmp_path, "cpu", "local", EnergyTotals(device_s=10, wall_s=5, devices=2, nodes_unknown=1)
    )
    old = _energy_run(tmp_path, "old", "local")  # from before energy was measured
    out = tmp_path / "report"
    assert eval_main(["report", str(gpu), str(cpu), str(old), "--output", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "## Planned vs measured: GPU-hours, energy, CO2" in md
    assert "energytest/old |" not in md.split("## Planned vs measured")[1]

    # The planned column is what `llm-train plan` says for the command the report prints.
    command = re.search(r"- energytest/gpu: measured energy source: \*\*(.+?)\*\*; planned: `(.+?)`", md)
    assert command.group(1) == "measured NVML + measured RAPL"
    argv = shlex.split(command.group(2))
    assert argv[:3] == ["llm-train", "plan", str(gpu / "config.yaml")]
    assert argv[3:] == ["--gpus", "4", "--no-search", "train.steps=null", "train.tokens=10240"]  # 20 x 8 x 64
    capsys.readouterr()
    plan_main([*argv[2:], "--json"])
    cost = json.loads(capsys.readouterr().out)["cost"]
    kwh = 2.5e6 / 3.6e6 * 1.1  # juwels-booster: PUE 1.1, 380 g/kWh
    for quantity, planned, value in (
        ("GPU-hours", cost["gpu_hours"], 2400 / 3600),
        ("wall hours", cost["wall_hours"], 600 / 3600),
        ("energy (kWh)", cost["energy_kwh"], kwh),
        ("CO2 (kg)", cost["co2_tonnes"] * 1000, kwh * 0.38),
    ):
        row = f"| energytest/gpu | {quantity} | {planned:.4g} | {value:.4g} | {value / planned:.3g} |"
        assert row in md, row
    assert "goodput 0.9, PUE 1.1" in md

    # No peak TFLOP/s and no power figures in the CPU profile: said, not made up.
    assert "| energytest/cpu | GPU-hours | – | 0.002778 | – |" in md
    assert "| energytest/cpu | energy (kWh) | – | – | – |" in md
    cpu_notes = md.split("- energytest/cpu:")[1]
    assert "measured energy unavailable: no NVML or RAPL" in cpu_notes and "no planned time" in cpu_notes
