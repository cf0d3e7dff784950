"""CPU package energy from RAPL through the Linux powercap interface.

Layout (`/sys/class/powercap`): one zone per socket, `intel-rapl:<N>/` with `name` ("package-N"),
`energy_uj` (a counter in microjoules) and `max_energy_range_uj` (where it wraps to 0). Each package
may have sub-zones `intel-rapl:<N>:<M>/`; "dram" is not part of the package figure on servers and
is counted too, "core"/"uncore" are and are not. A top-level "psys" zone (laptops) already holds
everything else and is skipped. AMD Zen CPUs appear under the same names.

Since Linux 5.10 `energy_uj` is readable by root only on most systems; a node with any unreadable
zone is not measured at all (a partial figure would undercount it) and the reason says which file.
The counter wraps after max_energy_range_uj (about 262 kJ: ~15 minutes of a 300 W socket), so it
must be read more often than that; one wrap between two reads is recovered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

POWERCAP_ROOT = Path("/sys/class/powercap")
_PACKAGE = re.compile(r"intel-rapl:\d+")
_SUBZONE = re.compile(r"intel-rapl:\d+:\d+")


@dataclass
class _Zone:
    path: Path
    max_range_uj: int
    last_uj: int
    total_uj: int = 0

    def __post_init__(self):
        self.counter = str(self.path / "energy_uj")  # read on every sample: no Path work then


def _read_int(path: Path | str) -> int:
    with open(path, "rb") as handle:
        return int(handle.read())


def _zone_dirs(root: Path) -> list[Path]:
    """Package zones and their DRAM sub-zones, in a stable order."""
    zones = []
    for pkg in sorted(p for p in root.iterdir() if _PACKAGE.fullmatch(p.name)):
        if not _zone_name(pkg).startswith("package"):
            continue  # psys: the whole platform, would count the packages twice
        zones.append(pkg)
        zones += sorted(s for s in pkg.iterdir() if _SUBZONE.fullmatch(s.name) and _zone_name(s) == "dram")
    return zones


def _zone_name(zone: Path) -> str:
    try:
        return (zone / "name").read_text().strip()
    except OSError:
        return ""


class RaplReader:
    """Joules used by this node's CPU packages (and DRAM) since the reader was opened."""

    def __init__(self, zones: list[_Zone]):
        self.zones = zones

    @classmethod
    def open(cls, root: Path = POWERCAP_ROOT) -> tuple[RaplReader | None, str]:
        """The reader, or None and why the node cannot be measured."""
        root = Path(root)
        if not root.is_dir():
            return None, f"no RAPL: {root} does not exist"
        try:
            dirs = _zone_dirs(root)
        except OSError as exc:
            return None, f"no RAPL: {root}: {exc.strerror or exc}"
        if not dirs:
            return None, f"no RAPL: no package zone under {root}"
        zones = []
        for zone in dirs:
            for name in ("max_energy_range_uj", "energy_uj"):
                try:
                    _read_int(zone / name)
                except (OSError, ValueError) as exc:
                    reason = getattr(exc, "strerror", None) or str(exc)
                    return None, f"RAPL not readable: {zone / name}: {reason}"
            zones.append(_Zone(zone, _read_int(zone / "max_energy_range_uj"), _read_int(zone / "energy_uj")))
        return cls(zones), f"RAPL: {len(zones)} zone(s) under {root}"

    def read_j(self) -> float:
        """Cumulative joules since open. Raises OSError/ValueError if a counter became unreadable."""
        for zone in self.zones:
            now = _read_int(zone.counter)
            delta = now - zone.last_uj
            if delta < 0:  # wrapped past max_energy_range_uj since the last read
                delta += zone.max_range_uj
            zone.total_uj += delta
            zone.last_uj = now
        return sum(z.total_uj for z in self.zones) / 1e6

    def close(self) -> None: ...
