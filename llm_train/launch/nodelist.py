"""Expand Slurm host lists (`jwb[0001-0004,0010]`, `nid[001234-001237]`, `a,b[1-2]`).

A pure-Python equivalent of `scontrol show hostnames`, so rank 0's address is known without
calling Slurm (not always on PATH inside containers).
"""

from __future__ import annotations

import re

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ']' in node list {text!r}")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise ValueError(f"unbalanced '[' in node list {text!r}")
    parts.append(text[start:])
    return [p for p in (s.strip() for s in parts) if p]


def _expand_brackets(spec: str) -> list[str]:
    open_at = spec.find("[")
    if open_at < 0:
        return [spec]
    close_at = spec.index("]", open_at)
    prefix, body, rest = spec[:open_at], spec[open_at + 1 : close_at], spec[close_at + 1 :]
    values: list[str] = []
    for item in body.split(","):
        match = _RANGE.match(item.strip())
        if not match:
            raise ValueError(f"bad range {item!r} in node list {spec!r}")
        lo, hi = match.group(1), match.group(2) or match.group(1)
        if int(hi) < int(lo):
            raise ValueError(f"descending range {item!r} in node list {spec!r}")
        width = len(lo)  # zero padding follows the lower bound, as Slurm does
        values.extend(f"{n:0{width}d}" for n in range(int(lo), int(hi) + 1))
    # Several bracket groups (rack[1-2]n[01-02]) form a cartesian product.
    return [f"{prefix}{v}{tail}" for v in values for tail in _expand_brackets(rest)]


def expand_nodelist(nodelist: str) -> list[str]:
    """All host names in a Slurm node list, in Slurm's order."""
    hosts: list[str] = []
    for part in _split_top_level(nodelist.strip()):
        hosts.extend(_expand_brackets(part))
    return hosts
