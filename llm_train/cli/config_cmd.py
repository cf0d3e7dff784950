"""`llm-train config show|validate|diff`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from llm_train.config import load_config
from llm_train.config.diff import diff_configs
from llm_train.config.loader import load_resolved_file
from llm_train.errors import ConfigError

ACTIONS = {"show": "print the resolved YAML and its sha256",
           "validate": "check files; non-zero exit on any error",
           "diff": "keys whose resolved values differ between A and B"}  # fmt: skip


def build_parser(action: str) -> argparse.ArgumentParser:
    """One parser per action, so `show` takes overrides before or after its options (as train,
    plan and submit do): argparse cannot intermix arguments behind subparsers."""
    p = argparse.ArgumentParser(prog=f"llm-train config {action}", description=ACTIONS[action])
    if action == "show":
        p.add_argument("config", help="experiment YAML (or a run dir)")
        p.add_argument("overrides", nargs="*", help="key.path=value overrides")
        p.add_argument("--cluster", help="cluster profile name or file (replaces the experiment's)")
        p.add_argument("--sources", action="store_true", help="also print which file set each key")
    elif action == "validate":
        p.add_argument("configs", nargs="+", help="experiment YAML files")
        p.add_argument("--cluster", help="cluster profile to validate against")
    else:
        p.add_argument("a", help="config file or run dir")
        p.add_argument("b", help="config file or run dir")
    return p


def usage() -> str:
    rows = "\n".join(f"  {name:<9} {text}" for name, text in ACTIONS.items())
    return (
        f"usage: llm-train config {{{','.join(ACTIONS)}}} ...\n\nShow, validate and diff configs.\n\n{rows}"
    )


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    action, rest = argv[0], argv[1:]
    if action not in ACTIONS:
        print(f"llm-train config: unknown action {action!r}\n\n{usage()}", file=sys.stderr)
        return 2
    args = build_parser(action).parse_intermixed_args(rest)
    return {"show": _show, "validate": _validate, "diff": _diff}[action](args)


def _show(args: argparse.Namespace) -> int:
    resolved = load_config(args.config, args.overrides, cluster=args.cluster)
    sys.stdout.write(resolved.yaml)
    print(f"# sha256: {resolved.sha256}")
    if args.sources:
        for key in sorted(resolved.provenance):
            print(f"# {key}: {resolved.provenance[key]}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.configs:
        try:
            resolved = load_config(path, cluster=args.cluster)
        except ConfigError as exc:
            failed += 1
            print(f"FAIL {path}", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem.render()}", file=sys.stderr)
        else:
            print(f"ok   {path}  sha256:{resolved.sha256[:12]}")
    print(f"{len(args.configs) - failed} valid, {failed} invalid")
    return 1 if failed else 0


def _load_any(path: str) -> dict[str, Any]:
    p = Path(path)
    if p.is_dir():
        return load_resolved_file(p)
    return load_config(p).config.model_dump(mode="json")


def _diff(args: argparse.Namespace) -> int:
    rows = diff_configs(_load_any(args.a), _load_any(args.b))
    if not rows:
        print("no differences")
        return 0
    width = max(len(k) for k, _, _ in rows)
    print(f"{'key':<{width}}  {args.a}  ->  {args.b}")
    for key, va, vb in rows:
        print(f"{key:<{width}}  {va!r}  ->  {vb!r}")
    print(f"{len(rows)} keys differ")
    return 0
