"""`llm-train prep`: raw text -> clean, filtered, PII-scrubbed, deduplicated corpus per language.

llm-train prep --input 'raw/*.jsonl.zst' --output clean/ [--config configs/data/prep-default.yaml]
               [--workers N] [--optout FILE] [--executor local|slurm] [key.path=value ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from rich.console import Console
from rich.table import Table

from data_prep.config import load_prep_config
from data_prep.pipeline.executor import Executor, LocalExecutor
from data_prep.pipeline.runner import PrepRun, run_prep
from data_prep.pipeline.slurm_executor import SlurmExecutor
from llm_train import storage

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
    if executor:
        values["executor"] = executor
    if args.optout:
        values["steps"] = {OPTOUT_STEP: {OPTOUT_PARAM: args.optout, "enabled": True}}
    return values


def make_executor(resolved) -> Executor:
    ex = resolved.config.executor
    if ex.kind == "slurm":
        # Imported here: the Slurm layer is only needed when submitting.
        from llm_train.slurm.prep import ArraySubmitter

        submit = None if ex.slurm.run_locally else ArraySubmitter()
        return SlurmExecutor(ex.slurm, job_name=resolved.config.name, submit=submit)
    return LocalExecutor(ex.workers)


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
    storage.make_dirs(output)  # the corpus root carries the policy's mode (and group) down
    start = time.perf_counter()
    run = run_prep(
        resolved,
        output,
        make_executor(resolved),
        overwrite=args.overwrite,
        show_progress=not args.no_progress,
    )
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
