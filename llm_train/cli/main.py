"""`llm-train`: a thin dispatcher; each subcommand owns its own argument parser."""

from __future__ import annotations

import difflib
import importlib
import logging
import sys

from llm_train import __version__
from llm_train.cli.commands import COMMANDS
from llm_train.errors import LLMTrainError, NotImplementedYet

EXIT_USAGE = 2


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {cmd.help}" for name, cmd in COMMANDS.items())
    return (
        "usage: llm-train [--version] [-v] <command> [args...]\n\n"
        "Train multilingual LLMs on your own data and your own HPC machines.\n\n"
        f"commands:\n{rows}\n\n"
        "Run `llm-train <command> --help` for a command's options."
    )


def resolve(name: str):
    module_name, func_name = COMMANDS[name].target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only a missing command module means "not implemented"; a missing dependency is a real error.
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise NotImplementedYet(f"llm-train {name}: not implemented yet") from None
        raise
    func = getattr(module, func_name, None)
    if func is None:
        raise NotImplementedYet(f"llm-train {name}: not implemented yet")
    return func


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = False
    while argv and argv[0].startswith("-"):
        flag = argv.pop(0)
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
