"""`llm-train track sync RUN_DIR`: import metrics.jsonl into Aim (e.g. after Aim was unreachable).

Idempotent: Aim keys a metric value by (name, context, step), so importing twice rewrites the
same points; the newest jsonl record per step wins, as in the run itself.
"""

from __future__ import annotations

from pathlib import Path

from llm_train.tracking.aim_tracker import index_run, open_run
from llm_train.tracking.jsonl import read_metrics


def sync_run(run_dir: Path, repo: str, experiment: str, hparams: dict | None = None) -> tuple[str, int]:
    """Returns (Aim run hash, number of metric points written)."""
    run_dir = Path(run_dir)
    run = open_run(repo, run_dir, experiment, system_interval=None)
    if hparams is not None:
        run["hparams"] = hparams
    points = 0
    for record in read_metrics(run_dir / "metrics.jsonl"):
        for name, value in record["metrics"].items():
            run.track(float(value), name=name, step=int(record["step"]), context=record.get("context", {}))
            points += 1
    run_hash = run.hash
    run.close()
    index_run(repo, run_hash)
    return run_hash, points
