"""`llm-train prep`: raw text -> clean, filtered, PII-scrubbed, deduplicated corpus per language.

llm-train prep --input 'raw/*.jsonl.zst' --output clean/ [--config configs/data/prep-default.yaml]
               [--workers N] [--optout FILE] [--executor local|slurm --cluster SITE] [key.path=value ...]

Inputs: .jsonl (plain, .gz, .zst), .parquet, .arrow, .warc(.gz), directories of .txt files, and
local HuggingFace datasets (a `save_to_disk` directory, or parquet/arrow files with a dataset card).
With `--executor slurm` every stage is a job array on the site of `--cluster` (its modules,
container, environment, account, partition and QoS), a task per `executor.slurm.shards_per_task`
input shards; a rerun submits only the tasks that did not finish.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from data_prep.config import load_prep_config
from data_prep.pipeline.executor import ArrayExecutor, Executor, prep_array_job
from data_prep.pipeline.registry import build_steps
from data_prep.pipeline.runner import PrepRun, run_prep
from llm_train import storage
from llm_train.errors import ConfigError, ConfigProblem

log = logging.getLogger(__name__)

# `--optout FILE` turns on the opt-out step with this removal list.
OPTOUT_STEP, OPTOUT_PARAM = "optout", "list_path"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="llm-train prep", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--input",
        nargs="+",
        action="extend",
        default=[],
        metavar="GLOB",
        help="input shards (files or .txt directories)",
    )
    parser.add_argument("--output", help="output directory (also where the run's state lives, for resuming)")
    parser.add_argument("--config", help="prep config YAML (default: configs/data/prep-default.yaml)")
    parser.add_argument("--workers", type=int, help="parallel worker processes (local executor)")
    parser.add_argument(
        "--optout",
        metavar="FILE",
        help="opt-out / erasure list (URLs, domain:NAME, id:VALUE), enables the optout step",
    )
    parser.add_argument(
        "--executor", choices=("local", "slurm"), help="where tasks run (default from config)"
    )
    parser.add_argument(
        "--cluster",
        metavar="SITE",
        help="cluster profile of the Slurm arrays (configs/cluster/SITE.yaml; default: detected from the hostname)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="discard an earlier run with another config in --output"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("overrides", nargs="*", metavar="key.path=value")
    return parser.parse_args(argv)


def cli_values(args: argparse.Namespace) -> dict:
    values: dict = {}
    if args.input:
        values["input"] = {"paths": list(args.input)}
    if args.output:
        values["output"] = {"dir": args.output}
    executor: dict = {}
    if args.workers is not None:
        executor["workers"] = args.workers
    if args.executor:
        executor["kind"] = args.executor
    if args.cluster:
        executor["slurm"] = {"cluster": args.cluster}
    if executor:
        values["executor"] = executor
    if args.optout:
        values["steps"] = {OPTOUT_STEP: {OPTOUT_PARAM: args.optout, "enabled": True}}
    return values


def make_executor(resolved, configs_root: Path | None = None) -> Executor:
    """Local worker processes, or Slurm arrays built from the site's profile (checked here, before
    anything is written: a bad profile or option fails the command, not the first stage)."""
    cfg = resolved.config
    ex = cfg.executor
    if ex.kind != "slurm":
        return ArrayExecutor(workers=ex.workers, name=cfg.name)
    from llm_train.config.compose import find_configs_root
    from llm_train.slurm import profile
    from llm_train.slurm.sites import detect_site

    root = configs_root or find_configs_root(Path.cwd() / "configs" / "cluster" / "x.yaml")
    cluster = ex.slurm.cluster or detect_site(root)
    if cluster is None:
        raise ConfigError(
            [
                ConfigProblem(
                    None, "--cluster", "--executor slurm needs a cluster profile: pass --cluster SITE"
                )
            ]
        )
    site = profile.load_site(cluster, cfg.name, configs_root=root)
    profile.slurm_profile(site)
    executor = ArrayExecutor(site=site, slurm=ex.slurm, name=cfg.name, state_poll_s=ex.slurm.poll_s)
    prep_array_job(site, ex.slurm, "/check", "shard", 1)  # the profile and options, checked now
    return executor


def summary_table(run: PrepRun) -> Table:
    table = Table(title="llm-train prep", show_lines=False)
    for col in ("step", "docs in", "docs out", "dropped", "MB in", "MB out"):
        table.add_column(col, justify="left" if col == "step" else "right")
    for step in run.stats["steps"]:
        c = step["counters"]
        docs_in, docs_out = int(c.get("docs_in", 0)), int(c.get("docs_out", 0))
        table.add_row(
            step["name"],
            f"{docs_in:,}",
            f"{docs_out:,}",
            f"{docs_in - docs_out:,}",
            f"{c.get('bytes_in', 0) / 1e6:,.2f}",
            f"{c.get('bytes_out', 0) / 1e6:,.2f}",
        )
    return table


def languages_table(run: PrepRun) -> Table:
    table = Table(title="languages")
    for col in ("lang", "docs", "MB", "train", "validation"):
        table.add_column(col, justify="left" if col == "lang" else "right")
    for lang, v in sorted(run.stats["languages"].items(), key=lambda kv: -kv[1]["bytes"]):
        table.add_row(
            lang,
            f"{v['docs']:,}",
            f"{v['bytes'] / 1e6:,.2f}",
            f"{v.get('train_docs', 0):,}",
            f"{v.get('validation_docs', 0):,}",
        )
    return table


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    resolved = load_prep_config(args.config, args.overrides, cli_values(args))
    output = resolved.config.output.dir
    if not output:
        print("llm-train prep: --output DIR is required (or output.dir in the config)", file=sys.stderr)
        return 2
    # Bad step parameters and a bad cluster profile fail before anything is written.
    build_steps(resolved.config.enabled_steps(), resolved.config.plugins, resolved.provenance)
    executor = make_executor(resolved)
    storage.make_dirs(output)  # the corpus root carries the policy's mode (and group) down
    start = time.perf_counter()
    run = run_prep(resolved, output, executor, overwrite=args.overwrite, show_progress=not args.no_progress)
    seconds = time.perf_counter() - start
    console = Console()
    console.print(summary_table(run))
    console.print(languages_table(run))
    t = run.stats["totals"]
    rate = t["input_bytes"] / 1e6 / seconds if seconds > 0 else 0.0
    ran = ", ".join(f"{stage} {n}" for stage, n in run.tasks_run.items())
    print(
        f"prep: {t['shards']} shards, {t['docs_in']:,} docs in -> {t['docs_out']:,} out "
        f"({t['bytes_in'] / 1e6:,.1f} -> {t['bytes_out'] / 1e6:,.1f} MB) in {seconds:.1f} s "
        f"({rate:.2f} MB/s; tasks run: {ran}); output in {output}"
    )
    return 0
