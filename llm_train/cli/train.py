"""`llm-train train CONFIG [key=value ...]`: train locally (spawning ranks) or as one rank under srun."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from llm_train import storage
from llm_train.config import load_config
from llm_train.errors import TrainingInterrupted
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
    resolved = load_config(args.config, args.overrides, cluster=args.cluster)
    storage.apply(resolved.config.storage.share)
    dist = detect()
    from llm_train.run_dir import RunDir, default_run_id

    run_id = args.run_id or default_run_id(dist.job_id, dist.is_distributed)
    cfg = resolved.config
    run = RunDir(Path(cfg.runs_dir) / cfg.name / run_id)
    run_dir = run.path
    nproc = args.nproc or (local_world_size(resolved.config) if dist.source == "single" else 1)
    if dist.source == "single" and nproc > 1:
        from llm_train.launch.local import python_module_cmd, spawn

        run.prepare(resolved.yaml, resolved.sha256)
        print(f"run dir: {run_dir}", flush=True)
        child_args = [args.config, *args.overrides, "--run-id", run_id]
        if args.cluster:
            child_args += ["--cluster", args.cluster]
        return spawn(nproc, python_module_cmd("llm_train.cli.train", child_args))
    if dist.is_main:
        run.prepare(resolved.yaml, resolved.sha256)
    from llm_train.trainer.trainer import Trainer

    try:
        Trainer(resolved, run_dir, dist).fit()
    except TrainingInterrupted as exc:
        log.warning("%s", exc)
        return INTERRUPTED
    return OK


if __name__ == "__main__":
    from llm_train.cli.main import main as cli_main

    sys.exit(cli_main(["train", *sys.argv[1:]]))
