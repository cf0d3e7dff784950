"""`llm-train doctor`: preflight of this node (software, GPUs, caches, storage, Slurm, collectives).

`llm-train doctor --burn-in`: the health of every node of an allocation (GEMM, bandwidths, NVML,
an all-reduce over the nodes); run it with one task per node, e.g.
`srun --ntasks-per-node=1 llm-train doctor --burn-in --cluster SITE`.
"""

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
from llm_train.errors import LLMTrainError


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
    p.add_argument(
        "--burn-in",
        action="store_true",
        help="per-node health checks (one srun task per node); with --run-dir: record bad nodes and the "
        "verdict for the job script",
    )
    p.add_argument("--allow-cpu", action="store_true", help="let --burn-in test CPU-only nodes")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    return p


def _cluster(name: str | None) -> ClusterConfig:
    if name and Path(name).suffix in (".yaml", ".yml") and Path(name).exists():
        return ClusterConfig(**read_yaml(Path(name)))
    root = find_configs_root(Path.cwd() / "configs" / "cluster" / "x.yaml")
    return ClusterConfig(**read_yaml(root / "cluster" / f"{name or 'local'}.yaml"))


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.burn_in:
        return burn_in(args)
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


def burn_in(args) -> int:
    """Exit 0 when every node passed, 1 when some failed or the burn-in could not run."""
    import torch

    from llm_train.doctor.burnin import run_burn_in
    from llm_train.doctor.burnin_report import render_burn_in
    from llm_train.launch.dist_env import detect
    from llm_train.parallel import Runtime, resolve_layout
    from llm_train.run_dir import RunDir

    run = RunDir(args.run_dir) if args.run_dir else None
    source = args.config or (run.config_file if run and run.config_file.is_file() else None)
    experiment = load_config(source, cluster=args.cluster).config if source else None
    cluster = experiment.cluster if experiment else _cluster(args.cluster)
    if not torch.cuda.is_available() and not (args.allow_cpu or cluster.health.allow_cpu):
        print(
            "llm-train doctor --burn-in: no GPU on this node, so there is nothing to burn in; "
            "pass --allow-cpu to test CPU-only nodes",
            file=sys.stderr,
        )
        return 1

    def fits(nodes: int) -> bool:
        if experiment is None:
            return False
        per_node = max(1, cluster.hardware.gpus_per_node)
        try:
            resolve_layout(experiment, nodes * per_node, Runtime.for_cluster(cluster))
        except LLMTrainError:
            return False
        return True

    results, decision = run_burn_in(cluster, run.path if run else None, fits)
    if detect().is_main:
        render_burn_in(results, decision, as_json=args.json)
    return 0 if all(r.ok for r in results) else 1
