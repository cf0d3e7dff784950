"""Run a prep: plan the shards, then the three stages, then stats.json and the data card.

    stage 1 `shard` (per input shard): read -> per-document steps -> intermediate + dedup keys
    stage 2 `dedup` (per language):    exact + MinHash-LSH clusters across all shards
    stage 3 `write` (per input shard): drop duplicates, split train/validation, final files

Every task leaves a done marker; a rerun (after a crash, kill -9 or preemption) plans nothing
new and runs only the tasks without a marker, so its output is identical to a clean run.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_prep.config import ResolvedPrep, dump_yaml_dict
from data_prep.pipeline.dropped import DROPPED_DIR
from data_prep.pipeline.executor import Executor
from data_prep.pipeline.progress import PrepProgress
from data_prep.pipeline.registry import build_steps
from data_prep.pipeline.state import Plan, Workdir, expand_inputs
from data_prep.pipeline.summary import build_stats
from data_prep.pipeline.tasks import Task
from llm_train.errors import DataError
from llm_train.utils.atomic import atomic_write_json

log = logging.getLogger(__name__)

STAGE_LABELS = {"shard": "read + steps (shards)", "dedup": "dedup (languages)", "write": "write (shards)"}


@dataclass
class PrepRun:
    output: Path
    stats: dict[str, Any]
    seconds: dict[str, float]
    tasks_run: dict[str, int]


def prepare_plan(resolved: ResolvedPrep, workdir: Workdir, overwrite: bool = False) -> Plan:
    cfg = resolved.config
    if not cfg.input.paths:
        raise DataError("no input: give --input GLOB (or input.paths in the config)")
    shards = expand_inputs(cfg.input.paths, cfg.input.format)
    # The card shows the config without executor settings, which may differ between resumed runs.
    plan = Plan(cfg, dump_yaml_dict(cfg.identity()), resolved.sha256, shards)
    if workdir.plan_path.exists():
        old = Plan.load(workdir)
        if old.sha256 == plan.sha256 and old.shards == plan.shards:
            log.info("resuming the prep run in %s", workdir.output)
            return old
        if not overwrite:
            raise DataError(
                f"{workdir.output} holds a prep run with a different config or input "
                f"(config {old.sha256[:12]} vs {plan.sha256[:12]}, {len(old.shards)} vs {len(shards)} shards); "
                "use --overwrite to discard it, or another --output"
            )
        clear_outputs(workdir)
    plan.save(workdir)
    return plan


def clear_outputs(workdir: Workdir) -> None:
    """Remove what an earlier run wrote (its languages, stats, card, state), nothing else."""
    langs = workdir.languages() if workdir.languages_path().exists() else []
    for lang in langs:
        shutil.rmtree(workdir.output / lang, ignore_errors=True)
    for name in ("stats.json", "DATACARD.md"):
        (workdir.output / name).unlink(missing_ok=True)
    shutil.rmtree(workdir.output / "charts", ignore_errors=True)
    shutil.rmtree(workdir.output / DROPPED_DIR, ignore_errors=True)
    workdir.clear()


def run_prep(
    resolved: ResolvedPrep,
    output: str | Path,
    executor: Executor,
    overwrite: bool = False,
    show_progress: bool = True,
) -> PrepRun:
    output = Path(output)
    workdir = Workdir(output)
    # Build the steps once here so bad step parameters fail before anything is written.
    build_steps(resolved.config.enabled_steps(), resolved.config.plugins, resolved.provenance)
    plan = prepare_plan(resolved, workdir, overwrite)
    n = len(plan.shards)
    seconds: dict[str, float] = {}
    tasks_run: dict[str, int] = {}
    with PrepProgress(enabled=show_progress) as progress:
        for stage in ("shard", "dedup", "write"):
            if stage == "dedup":
                langs = sorted({lang for i in range(n) for lang in workdir.result("shard", i)["langs"]})
                workdir.write_languages(langs)
                total = len(langs)
            else:
                total = n
            pending = [Task(stage, i) for i in range(total) if not workdir.is_done(stage, i)]
            progress.stage(stage, STAGE_LABELS[stage], total, total - len(pending))
            start = time.perf_counter()
            executor.run(str(output), pending, on_result=progress.update)
            seconds[stage] = time.perf_counter() - start
            tasks_run[stage] = len(pending)
    stats = build_stats(plan, workdir)
    atomic_write_json(output / "stats.json", stats)
    from data_prep.datacard import write_datacard
    from data_prep.hf_card import write_hf_card

    write_datacard(output, plan, stats)
    write_hf_card(output)  # README.md: the corpus loads with datasets.load_dataset(output, name=<lang>)
    _cleanup(workdir, plan)
    return PrepRun(output, stats, seconds, tasks_run)


def _cleanup(workdir: Workdir, plan: Plan) -> None:
    # Temp files of writers killed mid-write; their shards were rewritten under final names.
    for pattern in ("*/*/.part-*.tmp", f"{DROPPED_DIR}/*/*/.part-*.tmp"):
        for tmp in workdir.output.glob(pattern):
            tmp.unlink(missing_ok=True)
    if not plan.config.output.keep_intermediate:
        for i in range(len(plan.shards)):
            (workdir.shard_dir(i) / "docs.jsonl.zst").unlink(missing_ok=True)
