"""The report: plots plus tables of the newest evaluation of each run."""

from __future__ import annotations

import math
import time
from pathlib import Path

from evals.report.data import RunSeries, load_run
from evals.report.energy import QUANTITIES, planned_vs_measured
from evals.report.plots import plot_bpb, plot_loss, plot_tasks
from llm_train.utils.atomic import atomic_write_text


def _f(x, digits: int = 4) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _bpb_table(runs: list[RunSeries]) -> list[str]:
    rows = [(run, run.evals[-1]) for run in runs if run.evals and run.evals[-1].get("bpb")]
    if not rows:
        return []
    langs = sorted({lang for _, r in rows for lang in r["bpb"]["languages"]})
    out = [
        "## Bits per byte (newest checkpoint)",
        "",
        "| run | step | tokens | macro | " + " | ".join(langs) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(langs),
    ]
    for run, r in rows:
        vals = [_f(r["bpb"]["languages"].get(lang, {}).get("bpb")) for lang in langs]
        out.append(
            f"| {run.name} | {r['step']} | {r['tokens']:,} | {_f(r['bpb']['macro_bpb'])} | "
            + " | ".join(vals)
            + " |"
        )
    return [*out, ""]


def _task_table(runs: list[RunSeries]) -> list[str]:
    out = []
    for run in runs:
        if not run.evals or not run.evals[-1].get("task_results"):
            continue
        r = run.evals[-1]
        out += [
            f"## Tasks: {run.name}, step {r['step']}",
            "",
            "| task | lang | n | acc | acc_norm | chance |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for task, langs in sorted(r["task_results"].items()):
            for lang, v in sorted(langs.items()):
                out.append(
                    f"| {task} | {lang} | {v['n']} | {_f(v['acc'], 3)} | {_f(v['acc_norm'], 3)} | {_f(v.get('chance'), 3)} |"
                )
        out.append("")
    return out


def _g(x) -> str:
    return "–" if x is None else f"{x:.4g}"


def _energy_table(runs: list[RunSeries]) -> list[str]:
    rows = [c for c in (planned_vs_measured(run) for run in runs) if c is not None]
    if not rows:
        return []
    out = [
        "## Planned vs measured: GPU-hours, energy, CO2",
        "",
        "Planned: `llm-train plan` for the run's resolved config, the devices it ran on and the tokens it "
        "trained. Measured: the run's newest energy record in metrics.jsonl (energy includes the PUE).",
        "",
        "| run | quantity | planned | measured | measured / planned |",
        "|---|---|---:|---:|---:|",
    ]
    for c in rows:
        for q in QUANTITIES:
            planned, measured = c.planned[q], c.measured[q]
            ratio = f"{measured / planned:.3g}" if planned and measured is not None else "–"
            out.append(f"| {c.run} | {q} | {_g(planned)} | {_g(measured)} | {ratio} |")
    out.append("")
    for c in rows:
        out.append(f"- {c.run}: measured energy source: **{c.source}**; planned: `{c.command}`")
        out += [f"  - {note}" for note in c.notes]
    return [*out, ""]


def write_report(run_dirs: list[str | Path], output: Path, suite: str = "default") -> Path:
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    runs = [load_run(d, suite) for d in run_dirs]
    plots = [
        ("Loss vs tokens", plot_loss(runs, output / "loss_vs_tokens.png")),
        ("Bits per byte per language vs tokens", plot_bpb(runs, output / "bpb_vs_tokens.png")),
        ("Task accuracy vs tokens", plot_tasks(runs, output / "tasks_vs_tokens.png")),
    ]
    lines = [
        "# Evaluation report",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')}; suite `{suite}`.",
        "",
    ]
    lines += ["| run | train points | evaluated checkpoints |", "|---|---:|---:|"]
    lines += [f"| {r.name} (`{r.run_dir}`) | {len(r.train_loss)} | {len(r.evals)} |" for r in runs]
    lines.append("")
    for title, path in plots:
        lines += [f"## {title}", "", f"![{title}]({path.name})" if path else "_no data yet_", ""]
    lines += _bpb_table(runs) + _task_table(runs) + _energy_table(runs)
    report = output / "report.md"
    atomic_write_text(report, "\n".join(lines))
    return report
