"""Which cluster profile fits this machine: each profile's `hostname_patterns` against the hostname."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import yaml


def profile_patterns(configs_root: Path) -> dict[str, list[str]]:
    out = {}
    for path in sorted((configs_root / "cluster").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        patterns = data.get("hostname_patterns") or []
        if patterns:
            out[path.stem] = [str(p) for p in patterns]
    return out


def detect_site(configs_root: Path, hostname: str | None = None) -> str | None:
    """The profile whose pattern matches `hostname` (default: this machine's FQDN); None if none does.

    Raises ValueError when several profiles match, so a wrong site is never picked silently.
    """
    names = [hostname] if hostname else list(dict.fromkeys([socket.gethostname(), socket.getfqdn()]))
    matches = sorted(
        {
            profile
            for profile, patterns in profile_patterns(configs_root).items()
            for pattern in patterns
            for name in names
            if re.search(pattern, name)
        }
    )
    if len(matches) > 1:
        raise ValueError(f"hostname {names[0]!r} matches several cluster profiles: {', '.join(matches)}")
    return matches[0] if matches else None
