"""`llm-train track`: tracking utilities.

llm-train track ui [RUN_DIR | REPO] [--writable] [--socket PATH | --host H --port P]
    Aim's UI on a Unix socket only you can open (0600, in a 0700 dir), read-only unless --writable;
    prints the `ssh -L` command that opens it from a laptop; runs until Ctrl-C
llm-train track sync RUN_DIR [--repo PATH|aim://host:port]
    import RUN_DIR/metrics.jsonl into Aim (idempotent; continues the run's Aim run if it has one)
llm-train track index REPO
    make every run in a local Aim repo visible to queries (Aim indexes script-written runs lazily)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from llm_train.errors import LLMTrainError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llm-train track", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("ui", help="serve Aim's UI privately (Unix socket, read-only) and print the tunnel")
    u.add_argument(
        "target", nargs="?", default="runs/aim", help="a run dir or an Aim repo (default: runs/aim)"
    )
    u.add_argument("--writable", action="store_true", help="allow changing and deleting runs from the UI")
    u.add_argument(
        "--socket",
        type=Path,
        help="socket path (default: $XDG_RUNTIME_DIR/llm-train/aim-<repo hash>.sock, else under /tmp)",
    )
    u.add_argument(
        "--host", help="serve on TCP instead (open to everyone who can reach it: a warning says who)"
    )
    u.add_argument("--port", type=int, help="TCP port (with --host; default 43800)")
    s = sub.add_parser("sync", help="import a run dir's metrics.jsonl into Aim")
    s.add_argument("run_dir", type=Path)
    s.add_argument("--repo", help="Aim repo (default: the run's tracking.aim_repo, else <runs_dir>/aim)")
    i = sub.add_parser("index", help="index all runs of a local Aim repo")
    i.add_argument("repo")
    return p


def main(argv: list[str]) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.cmd == "ui":
        if args.socket and (args.host or args.port is not None):
            p.error("--socket and --host/--port exclude each other")
        from llm_train.tracking.ui import serve

        return serve(args.target, args.socket, args.host, args.port, args.writable)
    if args.cmd == "index":
        return _index(args.repo)
    from llm_train.config.loader import load_resolved_file
    from llm_train.tracking.hparams import run_hparams
    from llm_train.tracking.repo import repo_of_config
    from llm_train.tracking.sync import sync_run

    run_dir = args.run_dir
    if not (run_dir / "metrics.jsonl").is_file():
        raise LLMTrainError(f"{run_dir}: no metrics.jsonl (is this a run dir?)")
    config = load_resolved_file(run_dir) if (run_dir / "config.yaml").is_file() else {}
    repo = args.repo or repo_of_config(config)
    sha = (run_dir / "config.sha256").read_text().strip() if (run_dir / "config.sha256").is_file() else None
    run_hash, points = sync_run(
        run_dir, repo, config.get("name", run_dir.parent.name), run_hparams(config, sha)
    )
    print(f"synced {points} metric points from {run_dir / 'metrics.jsonl'} into Aim run {run_hash} ({repo})")
    return 0


def _index(repo: str) -> int:
    from llm_train.tracking.aim_tracker import index_repo

    print(f"indexed {index_repo(repo)} runs in {repo}")
    return 0
