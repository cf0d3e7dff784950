"""Eval results into the training run's Aim run, at the checkpoint's step. Every Aim call of the
evals package is in this module (and in `llm_train.tracking`, whose run-opening it reuses).

The training run is found through RUN_DIR/aim.json (written by the trainer: repo + run hash). Without
it, the run's tracking repo (`tracking.aim_repo`, else `<runs_dir>/aim`) gets a new run named after
the run dir, remembered in aim.json for later checkpoints. Aim failing never fails an evaluation:
results.jsonl holds everything, and records not yet in Aim are retried by the next `eval watch`
pass (their ids are kept in evals/aim_logged.json).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from llm_train.tracking.repo import repo_of_run
from llm_train.utils.atomic import atomic_write_json

log = logging.getLogger(__name__)
LOGGED = "aim_logged.json"


def aim_repo_for(run_dir: Path, cfg) -> str:
    return repo_of_run(run_dir, cfg.tracking.aim_repo if cfg is not None else None)


def metrics_of(record: dict) -> list[tuple[str, float, dict]]:
    """(name, value, context) triples of one result record."""
    out = []
    bpb = record.get("bpb") or {}
    for lang, values in (bpb.get("languages") or {}).items():
        for name in ("bpb", "token_ppl"):
            out.append((name, values[name], {"subset": "eval", "lang": lang}))
    if "macro_bpb" in bpb:
        out.append(("bpb", bpb["macro_bpb"], {"subset": "eval", "lang": "macro"}))
    for task, langs in (record.get("task_results") or {}).items():
        for lang, values in langs.items():
            for name in ("acc", "acc_norm"):
                out.append((name, values[name], {"subset": "eval", "task": task, "lang": lang}))
    return [(n, float(v), c) for n, v, c in out if isinstance(v, (int, float)) and math.isfinite(v)]


def log_record(run_dir: Path, record: dict, cfg=None) -> bool:
    """Track one result record; True when it reached Aim."""
    if record.get("kind") != "result" or record.get("step") is None:
        return False
    try:
        from llm_train.tracking.aim_tracker import index_run, open_run

        repo = aim_repo_for(run_dir, cfg)
        experiment = cfg.name if cfg is not None else Path(run_dir).parent.name
        run = open_run(repo, Path(run_dir), experiment, None)
        try:
            for name, value, context in metrics_of(record):
                run.track(value, name=name, step=record["step"], context=context)
        finally:
            run_hash = run.hash
            run.close()
        index_run(repo, run_hash)
    except Exception as exc:  # locked repo, server down, version mismatch: retried on the next pass
        log.warning(
            "aim: eval of step %s not logged (%s: %s); results.jsonl has it",
            record.get("step"),
            type(exc).__name__,
            exc,
        )
        return False
    _mark_logged(run_dir, record["id"])
    return True


def _logged_path(run_dir: Path) -> Path:
    return Path(run_dir) / "evals" / LOGGED


def logged_ids(run_dir: Path) -> set[str]:
    path = _logged_path(run_dir)
    try:
        return set(json.loads(path.read_text()))
    except (OSError, ValueError):
        return set()


def _mark_logged(run_dir: Path, record_id: str) -> None:
    atomic_write_json(_logged_path(run_dir), sorted(logged_ids(run_dir) | {record_id}), indent=None)


def sync_pending(run_dir: Path, records: list[dict], cfg=None) -> int:
    """Log result records that are not in Aim yet; returns how many got there."""
    done, count = logged_ids(run_dir), 0
    for record in records:
        if record.get("kind") == "result" and record.get("id") and record["id"] not in done:
            if not log_record(run_dir, record, cfg):
                break  # e.g. the trainer still holds the run: one warning per pass is enough
            count += 1
    return count
