"""`llm-train data`: data rights after prep, one subcommand each (imported lazily).

llm-train data lineage RUN_DIR --id ID | --ids-file F | --url U | --source S | --step N
llm-train data erase --corpus CLEAN --ids ID ... | --ids-file F | --urls U ... | --domains D ... | --match REGEX
"""

from __future__ import annotations

import difflib
import importlib
import sys

SUBCOMMANDS = {
    "lineage": (
        "llm_train.cli.data_lineage:main",
        "which runs, steps and checkpoints consumed a document, and back",
    ),
    # Erasure rewrites a clean corpus and its packs: data_prep's job (llm_train never imports it).
    "erase": ("data_prep.cli.erase:main", "remove documents from a clean corpus, its packs; report the runs"),
}


def usage() -> str:
    rows = "\n".join(f"  {name:<8} {help_}" for name, (_, help_) in SUBCOMMANDS.items())
    return f"usage: llm-train data <subcommand> [args...]\n\nsubcommands:\n{rows}\n"


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        close = difflib.get_close_matches(name, SUBCOMMANDS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        print(f"llm-train data: unknown subcommand {name!r}.{hint}\n\n{usage()}", file=sys.stderr)
        return 2
    module, func = SUBCOMMANDS[name][0].split(":")
    return int(getattr(importlib.import_module(module), func)(rest) or 0)
