"""The shell commands of README.md's fenced `bash` blocks, as tests/test_readme.py runs them.

A block's lines are joined at trailing backslashes into commands; `#` lines after a command are
what the README says it prints. A command the README test cannot run as written says so to every
reader, on its own line or in a comment right after it:
    `# not run by the README test: <reason>`  -> reported as skipped with that reason
    `# the README test runs this with --dry-run` -> run with --dry-run appended
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SKIP = re.compile(r"#\s*not run by the README test:\s*(?P<reason>.+)$")
DRY_RUN = "the README test runs this with --dry-run"
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>\S*)\s*$")


@dataclass
class Command:
    line: int  # line number in README.md
    text: str  # the command, continuation lines joined
    notes: list[str] = field(default_factory=list)  # the comment lines after it
    skip: str | None = None
    dry_run: bool = False

    @property
    def shell(self) -> str:
        text = self.text.split(" #", 1)[0].rstrip() if " #" in self.text else self.text
        return f"{text} --dry-run" if self.dry_run else text


def bash_commands(readme: Path) -> list[Command]:
    commands: list[Command] = []
    lines = readme.read_text(encoding="utf-8").splitlines()
    block, pending, start = None, "", 0  # block: None outside fences, else the opening fence's info
    first = 0  # index of the current block's first command: a comment attaches to one in its block
    for number, raw in enumerate(lines, 1):
        fence = FENCE.match(raw)
        if fence:
            block, pending = (fence["info"] or "text") if block is None else None, ""
            first = len(commands)
            continue
        if block != "bash":
            continue
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if len(commands) > first and not pending:
                _note(commands[-1], line)
            continue
        if pending:
            pending += " " + line
        else:
            pending, start = line, number
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        command = Command(start, pending)
        _note(command, pending)
        commands.append(command)
        pending = ""
    return commands


def _note(command: Command, text: str) -> None:
    if text is not command.text:
        command.notes.append(text)
    skip = SKIP.search(text)
    if skip:
        command.skip = skip["reason"].strip()
    if DRY_RUN in text:
        command.dry_run = True
