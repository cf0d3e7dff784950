"""`llm-train train CONFIG [key=value ...]`: train locally (spawning ranks) or as one rank under srun."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from llm_train import storage
from llm_train.config import load_config
from llm_train.errors import LLMTrainError, TrainingInterrupted
from llm_train.launch.dist_env import detect
from llm_train.parallel import ParallelLayout
from llm_train.trainer.exit_codes import INTERRUPTED, OK

log = logging.getLogger("llm_train.train")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llm-train train", description=__doc__)
    p.add_argument("config", help="experiment YAML (or a run dir to resume with its resolved config)")
    p.add_argument("overrides", nargs="*", help="key.path=value overrides, e.g. train.steps=100")
    p.add_argument("--cluster", help="cluster profile name (configs/cluster/NAME.yaml)")
    p.add_argument(
        "--run-id", help="run dir name under <runs_dir>/<name>/ (default: new timestamp, or job-<id>)"
    )
    p.add_argument("--nproc", type=int, help="local processes to start (default: the config's world size)")
    return p


def local_world_size(cfg) -> int:
    """Ranks to start when the user gives no --nproc: the layout's world size (dp=auto: one replica)."""
    layout = ParallelLayout.from_config(cfg)
    return layout.world_size or layout.model_parallel_size


def main(argv: list[str]) -> int:
    args = parser().parse_intermixed_args(argv)
    # Library progress at INFO would drown ours (megatron index building, Aim's reporter threads).
    for name in ("megatron", "aim", "DeepSpeed"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from llm_train.run_dir import RunDir, default_run_id

    dist = detect()
    given = RunDir(args.config)
    resuming = given.path.is_dir()
    if resuming:
        # A run dir resumes itself: its resolved config plus the overrides, in place.
        if not given.config_file.is_file():
            raise LLMTrainError(f"{given.path}: not a run dir (no config.yaml); pass an experiment YAML")
        if args.run_id and args.run_id != given.path.name:
            raise LLMTrainError(
                f"{given.path} is run {given.path.name!r}: it resumes itself (drop --run-id {args.run_id}, "
                "or start another run from the experiment YAML)"
            )
        resolved = load_config(given.config_file, args.overrides, cluster=args.cluster)
        run = given
    else:
        resolved = load_config(args.config, args.overrides, cluster=args.cluster)
        cfg = resolved.config
        run = RunDir(
            Path(cfg.runs_dir) / cfg.name / (args.run_id or default_run_id(dist.job_id, dist.is_distributed))
        )
    storage.apply(resolved.config.storage.share)
    nproc = args.nproc or (local_world_size(resolved.config) if dist.source == "single" else 1)
    if dist.source == "single":  # the launcher checks before starting any rank; ranks check again
        _preflight(resolved, run, nproc)
    if dist.source == "single" and nproc > 1:
        from llm_train.launch.local import python_module_cmd, spawn

        _prepare(run, resolved)
        print(f"run dir: {run.path}", flush=True)
        child_args = [str(run.path) if resuming else args.config, *args.overrides, "--run-id", run.path.name]
        if args.cluster:
            child_args += ["--cluster", args.cluster]
        return spawn(nproc, python_module_cmd("llm_train.cli.train", child_args))
    if dist.is_main:
        _prepare(run, resolved)
    from llm_train.trainer.trainer import Trainer

    try:
        Trainer(resolved, run.path, dist).fit()
    except TrainingInterrupted as exc:
        log.warning("%s", exc)
        return INTERRUPTED
    return OK


def _preflight(resolved, run, world_size: int) -> None:
    """What the ranks would refuse, refused before any of them starts or loads: the layout for this
    many ranks, and what the checkpoint to resume from allows (backend, optimizer, global batch)."""
    from llm_train.parallel import Runtime, resolve_layout
    from llm_train.trainer.resume import plan_resume

    runtime = Runtime.detect()
    layout = resolve_layout(resolved.config, world_size, runtime)
    plan = plan_resume(run, resolved.config, layout, bool(runtime.cuda))
    if plan.changes or plan.batch_change:
        log.warning("resuming %s from %s with a new layout: %s", run.path, plan.checkpoint, plan.describe())


def _prepare(run, resolved) -> None:
    """Write the run's config; a change since the last start is named key by key (a layout change
    of a resume is expected, anything else is worth a second look)."""
    from llm_train.config.diff import diff_configs
    from llm_train.config.loader import load_resolved_file
    from llm_train.trainer.resume import LAYOUT_CONFIG_KEYS

    if run.config_file.is_file():
        changed = diff_configs(load_resolved_file(run.config_file), resolved.config.model_dump(mode="json"))
        # Keys the run's config predates (a newer llm-train) take their defaults: not a change.
        changed = [row for row in changed if row[1] is not None or row[0] in LAYOUT_CONFIG_KEYS]
        layout = [row for row in changed if row[0].startswith(LAYOUT_CONFIG_KEYS)]
        other = [row for row in changed if row not in layout]
        if layout:
            log.info("layout change: %s", ", ".join(f"{k} {a} -> {b}" for k, a, b in layout))
        if other:
            log.warning(
                "config changed since the last start: %s",
                ", ".join(f"{k} {a!r} -> {b!r}" for k, a, b in other),
            )
    run.prepare(resolved.yaml, resolved.sha256)


if __name__ == "__main__":
    from llm_train.cli.main import main as cli_main

    sys.exit(cli_main(["train", *sys.argv[1:]]))
