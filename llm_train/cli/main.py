"""`llm-train`: a thin dispatcher; each subcommand owns its own argument parser."""

from __future__ import annotations

import difflib
import importlib
import logging
import sys

from llm_train import __version__, storage
from llm_train.cli.commands import COMMANDS
from llm_train.errors import LLMTrainError

EXIT_USAGE = 2


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {cmd.help}" for name, cmd in COMMANDS.items())
    return (
        "usage: llm-train [--version] [-v] [--share private|group|world] <command> [args...]\n\n"
        "Train multilingual LLMs on your own data and your own HPC machines.\n\n"
        f"commands:\n{rows}\n\n"
        "--share: who may read what the command writes (default $LLM_TRAIN_SHARE, else group: the\n"
        "project's Unix group, not other users; an experiment's storage.share applies to its run).\n"
        "Run `llm-train <command> --help` for a command's options."
    )


def resolve(name: str):
    module_name, func_name = COMMANDS[name].target.split(":")
    return getattr(importlib.import_module(module_name), func_name)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose, share = False, None
    while argv and argv[0].startswith("-"):
        flag = argv.pop(0)
        if flag == "--share" or flag.startswith("--share="):
            share = flag.partition("=")[2] or (argv.pop(0) if argv else "")
            continue
        if flag in ("-h", "--help"):
            print(usage())
            return 0
        if flag == "--version":
            print(f"llm-train {__version__}")
            return 0
        if flag in ("-v", "--verbose"):
            verbose = True
            continue
        print(f"llm-train: unknown option {flag}\n\n{usage()}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        storage.apply(share)
    except ValueError as exc:
        print(f"llm-train --share: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not argv:
        print(usage(), file=sys.stderr)
        return EXIT_USAGE
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        print(f"llm-train: unknown command {name!r}.{hint}\n\n{usage()}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(resolve(name)(rest) or 0)
    except LLMTrainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
