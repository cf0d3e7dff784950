"""Slurm time strings ("30", "1:00:00", "2-00:00:00", "INFINITE") <-> seconds."""

from __future__ import annotations

import re

_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
UNLIMITED = ("INFINITE", "UNLIMITED")


def parse_time(text: str) -> int | None:
    """Seconds, or None for an unlimited partition. Raises ValueError for anything else.

    Slurm's forms: "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S".
    """
    text = str(text).strip()
    if text.upper() in UNLIMITED:
        return None
    m = _TIME.match(text)
    if not m:
        raise ValueError(f"not a Slurm time: {text!r} (expected e.g. 30, 1:00:00 or 2-00:00:00)")
    days, a, b, c = (int(x) if x is not None else None for x in m.groups())
    if days is None:
        if b is None:
            return a * 60  # minutes
        if c is None:
            return a * 60 + b  # minutes:seconds
        return a * 3600 + b * 60 + c
    hours, minutes, seconds = a, b or 0, c or 0
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def format_time(seconds: int) -> str:
    """Seconds as Slurm's D-HH:MM:SS (HH:MM:SS under a day)."""
    days, rest = divmod(int(seconds), 86400)
    hms = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}-{hms}" if days else hms
