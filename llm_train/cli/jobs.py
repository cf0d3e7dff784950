"""`llm-train jobs RUN_DIR` (the run's Slurm jobs and their transitions) and
`llm-train logs RUN_DIR` (tail the newest job log)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from llm_train.cli.run_health import health_tables
from llm_train.errors import LLMTrainError
from llm_train.run_dir import RunDir
from llm_train.slurm import events, query
from llm_train.slurm.sbatch import SlurmError


def _run_dir(path: str) -> RunDir:
    run = RunDir(path)
    if not run.slurm.is_dir():
        raise LLMTrainError(
            f"{run.path}: no slurm/ folder here; is this a run dir made by `llm-train submit`?"
        )
    return run


def attempts_by_job(evts: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in evts:
        if e.get("event") == "started" and e.get("job_id"):
            counts[e["job_id"]] = counts.get(e["job_id"], 0) + 1
    return counts


def main_jobs(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="llm-train jobs", description="The Slurm jobs of a run dir (sacct/squeue)."
    )
    p.add_argument("run_dir")
    p.add_argument("--events", action="store_true", help="also print every job transition")
    args = p.parse_args(argv)
    run = _run_dir(args.run_dir)
    evts = run.job_events()
    submitted = events.submitted_jobs(run.path)
    ids = [e["job_id"] for e in submitted]
    try:
        records = query.states(ids)
    except SlurmError as exc:
        print(f"warning: {exc}", file=sys.stderr)
        records = {}
    attempts = attempts_by_job(evts)
    table = Table(title=f"jobs of {run.path}")
    for col in ("job", "kind", "name", "state", "exit", "attempts", "start", "elapsed", "nodes", "reason"):
        table.add_column(col)
    for sub in submitted:
        jid = sub["job_id"]
        rows = [r for k, r in sorted(records.items()) if k == jid or k.startswith(f"{jid}_")] or [None]
        for rec in rows:
            table.add_row(
                rec.job_id if rec else jid,
                sub.get("kind", ""),
                sub.get("name", ""),
                rec.state if rec else "UNKNOWN",
                rec.exit_code if rec else "",
                str(attempts.get(jid, 0)),
                rec.start if rec else "",
                rec.elapsed if rec else "",
                rec.nodes if rec else "",
                rec.reason if rec else "",
            )
    console = Console(width=160)
    console.print(table)
    for extra in health_tables(run):
        console.print(extra)
    if args.events:
        for e in evts:
            rest = {k: v for k, v in e.items() if k not in ("time", "event")}
            console.print(f"{e.get('time', '')}  {e.get('event', ''):<10} {rest}", markup=False)
    return 0


def pick_log(run: RunDir, job_id: str | None = None) -> Path:
    # Script jobs log to slurm/<name>-<id>.out, function jobs to slurm/<kind>/<id>/<id>_<task>_log.out.
    logs = sorted(run.slurm.rglob("*.out"), key=lambda p: p.stat().st_mtime)
    if job_id:
        logs = [
            p
            for p in logs
            if p.stem.endswith(f"-{job_id}") or f"-{job_id}_" in p.stem or p.stem.startswith(f"{job_id}_")
        ]
    if not logs:
        which = f" of job {job_id}" if job_id else ""
        raise LLMTrainError(f"no log{which} in {run.slurm} yet (the job may still be pending)")
    return logs[-1]


def main_logs(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="llm-train logs", description="Tail the newest Slurm log of a run dir.")
    p.add_argument("run_dir")
    p.add_argument("--job", help="a job id (default: the newest log)")
    p.add_argument("-n", "--lines", type=int, default=40)
    p.add_argument("-f", "--follow", action="store_true")
    args = p.parse_args(argv)
    log_path = pick_log(_run_dir(args.run_dir), args.job)
    print(f"==> {log_path} <==", file=sys.stderr)
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        lines = handle.readlines()
        sys.stdout.write("".join(lines[-args.lines :] if args.lines > 0 else []))
        while args.follow:
            chunk = handle.read()
            if chunk:
                sys.stdout.write(chunk)
                sys.stdout.flush()
            else:
                time.sleep(1)
    return 0
