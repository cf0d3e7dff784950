"""PNG plots of a report (matplotlib, Agg backend: no display needed). One figure per question:
loss vs tokens, BPB per language vs tokens, task accuracy vs tokens; runs are told apart by line
style, languages and tasks by colour."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from evals.report.data import RunSeries  # noqa: E402
from llm_train.utils.atomic import atomic_write_bytes  # noqa: E402

STYLES = ["-", "--", ":", "-."]
MARKERS = ["o", "s", "^", "D"]


def _finish(fig, ax, title: str, ylabel: str, path: Path) -> Path:
    ax.set_title(title)
    ax.set_xlabel("tokens")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def plot_loss(runs: list[RunSeries], path: Path) -> Path | None:
    if not any(r.train_loss or r.valid_loss for r in runs):
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, run in enumerate(runs):
        color = f"C{i}"
        if run.train_loss:
            xs, ys = zip(*run.train_loss, strict=True)
            ax.plot(xs, ys, color=color, lw=1.2, label=f"{run.name} train")
        for j, (lang, pts) in enumerate(run.valid_loss.items()):
            xs, ys = zip(*pts, strict=True)
            ax.plot(
                xs,
                ys,
                color=color,
                ls=STYLES[1 + j % 3],
                marker=MARKERS[j % 4],
                ms=3,
                lw=1,
                label=f"{run.name} valid {lang}",
            )
    return _finish(fig, ax, "Training and validation loss", "loss (nats/token)", path)


def plot_bpb(runs: list[RunSeries], path: Path) -> Path | None:
    series = [(run, run.bpb()) for run in runs]
    if not any(b for _, b in series):
        return None
    langs = sorted({lang for _, b in series for lang in b if lang != "macro"})
    colors = {lang: f"C{i % 10}" for i, lang in enumerate(langs)}
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (run, bpb) in enumerate(series):
        for lang, pts in sorted(bpb.items()):
            xs, ys = zip(*pts, strict=True)
            macro = lang == "macro"
            ax.plot(
                xs,
                ys,
                color="black" if macro else colors[lang],
                ls=STYLES[i % 4],
                marker=MARKERS[i % 4],
                ms=3,
                lw=2.2 if macro else 1,
                label=f"{lang}" + (f" ({run.name})" if len(runs) > 1 else ""),
            )
    return _finish(fig, ax, "Bits per byte on held-out text", "bits per byte", path)


def plot_tasks(runs: list[RunSeries], path: Path, metric: str = "acc") -> Path | None:
    series = [(run, run.task_acc(metric)) for run in runs]
    tasks = sorted({t for _, accs in series for t in accs})
    if not tasks:
        return None
    colors = {t: f"C{i % 10}" for i, t in enumerate(tasks)}
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (run, accs) in enumerate(series):
        for task, pts in sorted(accs.items()):
            xs, ys, chance = zip(*pts, strict=True)
            ax.plot(
                xs,
                ys,
                color=colors[task],
                ls=STYLES[i % 4],
                marker=MARKERS[i % 4],
                ms=3,
                label=task + (f" ({run.name})" if len(runs) > 1 else ""),
            )
            if i == 0:
                ax.axhline(sum(chance) / len(chance), color=colors[task], lw=0.8, alpha=0.5, ls=":")
    ax.set_ylim(0, 1)
    return _finish(fig, ax, f"Task accuracy ({metric}, mean over languages; dotted: chance)", metric, path)
