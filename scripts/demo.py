"""`make demo`: the whole flow on the bundled sample corpus, one stage after another.

Each stage is a plain `llm-train` command (printed before it runs, so users can copy it).
A stage whose subcommand has not landed yet is reported as skipped, and the stages that
need its output are skipped too.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
NOT_IMPLEMENTED = 3
console = Console()


@dataclass
class Stage:
    name: str
    argv: list[str]
    needs: list[str] = field(default_factory=list)


def stages(work: Path, runs: Path, run_id: str) -> list[Stage]:
    clean, tok, packed = work / "clean", work / "tokenizer", work / "packed"
    run_dir = runs / "demo-cpu" / run_id
    sample = sorted(str(p) for p in (REPO / "data" / "sample").glob("*.jsonl*"))
    return [
        Stage(
            "prep",
            [
                "prep",
                "--input",
                *sample,
                "--output",
                str(clean),
                "--config",
                str(REPO / "configs/data/prep-demo.yaml"),
                "--workers",
                "2",
            ],
        ),
        Stage(
            "tokenizer",
            ["tokenizer", "--corpus", str(clean), "--output", str(tok), "--vocab-size", "8192"],
            ["prep"],
        ),
        Stage(
            "pack",
            [
                "pack",
                "--corpus",
                str(clean),
                "--tokenizer",
                str(tok),
                "--output",
                str(packed),
                "--mixture",
                str(REPO / "configs/data/mixtures/demo.yaml"),
                "--workers",
                "2",
            ],
            ["tokenizer"],
        ),
        Stage(
            "train",
            ["train", str(REPO / "configs/experiments/demo-cpu.yaml"), "--nproc", "2", "--run-id", run_id],
            ["pack"],
        ),
        Stage("eval", ["eval", "run", str(run_dir)], ["train"]),
        Stage("export", ["export", "--to", "hf", str(run_dir), str(work / "hf")], ["train"]),
        Stage("report", ["eval", "report", str(run_dir)], ["eval"]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", default=os.environ.get("LLM_TRAIN_WORK", "work"))
    parser.add_argument("--runs", default=os.environ.get("LLM_TRAIN_RUNS", "runs"))
    parser.add_argument("--run-id", default="demo")
    parser.add_argument("--slurm", action="store_true", help="submit the flow as a job chain to Slurm")
    args = parser.parse_args()
    work = Path(args.work).resolve() / "demo"
    runs = Path(args.runs).resolve()
    env = {**os.environ, "LLM_TRAIN_WORK": str(work.parent), "LLM_TRAIN_RUNS": str(runs)}
    llm_train = [sys.executable, "-m", "llm_train.cli.main"]
    if args.slurm:
        cmd = [
            *llm_train,
            "submit",
            str(REPO / "configs/experiments/demo-cpu.yaml"),
            "--cluster",
            "local-slurm",
            "--chain",
            "prep,tokenizer,pack,train,eval",
            "--wait",
        ]
        console.rule("[bold]demo on Slurm")
        console.print("$ llm-train " + shlex.join(cmd[3:]))
        return subprocess.call(cmd, env=env, cwd=REPO)

    results: dict[str, tuple[str, float]] = {}
    for stage in stages(work, runs, args.run_id):
        missing = [n for n in stage.needs if results.get(n, ("",))[0] != "ok"]
        if missing:
            results[stage.name] = (f"skipped (needs {', '.join(missing)})", 0.0)
            continue
        console.rule(f"[bold]{stage.name}")
        console.print("$ llm-train " + shlex.join(stage.argv), style="cyan")
        start = time.monotonic()
        code = subprocess.call([*llm_train, *stage.argv], env=env, cwd=REPO)
        elapsed = time.monotonic() - start
        if code == NOT_IMPLEMENTED:
            results[stage.name] = ("skipped (not implemented yet)", elapsed)
        elif code == 0:
            results[stage.name] = ("ok", elapsed)
        else:
            results[stage.name] = (f"failed (exit {code})", elapsed)

    table = Table(title="demo summary")
    table.add_column("stage")
    table.add_column("status")
    table.add_column("time", justify="right")
    for name, (status, elapsed) in results.items():
        table.add_row(name, status, f"{elapsed:.1f} s")
    console.print(table)
    total = sum(t for _, t in results.values())
    console.print(f"outputs: {work}  runs: {runs}")
    console.print(f"look at training curves: aim up --host 127.0.0.1 --repo {runs / 'aim'}")
    ran = sum(1 for s, _ in results.values() if s == "ok")
    console.print(f"demo: {ran}/{len(results)} stages ran in {total:.0f} s")
    return 1 if any(s.startswith("failed") for s, _ in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
