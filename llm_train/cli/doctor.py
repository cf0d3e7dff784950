"""`llm-train doctor`: preflight of this node (software, GPUs, caches, storage, Slurm, collectives)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from llm_train.config import load_config
from llm_train.config.cluster import ClusterConfig
from llm_train.config.compose import find_configs_root, read_yaml
from llm_train.doctor.checks import Status
from llm_train.doctor.runner import DoctorContext, render, run_checks


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llm-train doctor", description=__doc__)
    p.add_argument("--cluster", help="cluster profile name or file (default: the experiment's, else local)")
    p.add_argument(
        "--config", help="experiment YAML: also checks its tokenizer, backend, runs_dir and Aim repo"
    )
    p.add_argument(
        "--run-dir", help="directory that must be writable (default: the experiment's runs_dir, else runs)"
    )
    p.add_argument(
        "--data",
        action="append",
        default=[],
        help="a corpus or packed-data dir whose permissions to check (repeatable; --config adds its own)",
    )
    p.add_argument("--no-collective", action="store_true", help="skip the 2-process all_reduce")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    return p


def _cluster(name: str | None) -> ClusterConfig:
    if name and Path(name).suffix in (".yaml", ".yml") and Path(name).exists():
        return ClusterConfig(**read_yaml(Path(name)))
    root = find_configs_root(Path.cwd() / "configs" / "cluster" / "x.yaml")
    return ClusterConfig(**read_yaml(root / "cluster" / f"{name or 'local'}.yaml"))


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    experiment = load_config(args.config, cluster=args.cluster).config if args.config else None
    cluster = experiment.cluster if experiment else _cluster(args.cluster)
    run_dir = Path(args.run_dir or (experiment.runs_dir if experiment else "runs"))
    ctx = DoctorContext(
        cluster=cluster,
        experiment=experiment,
        run_dir=run_dir,
        collective=not args.no_collective,
        data=tuple(Path(d) for d in args.data),
    )
    results = run_checks(ctx)
    if args.json:
        json.dump([{**r.__dict__, "status": r.status.value} for r in results], sys.stdout, indent=2)
        print()
    else:
        render(results, f"llm-train doctor (cluster {cluster.name})")
    return 1 if any(r.status == Status.FAIL for r in results) else 0
