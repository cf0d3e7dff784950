"""Energy totals of a run and their record in metrics.jsonl.

One energy record per logged step (and one at the end): context {"subset": "energy", "source":
<label>}, metrics below. `source` says where the joules came from: "measured NVML", "measured
RAPL", "estimated" (the profile's gpu_power_w / node_base_power_w x time), joined with " + " when
parts differ, "unavailable" when nothing could be counted (then only the hours are written).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from llm_train.energy.footprint import J_PER_KWH, co2_kg, facility_kwh

SUBSET = "energy"
_JOULES = ("gpu_measured_j", "gpu_estimated_j", "node_measured_j", "node_estimated_j")


@dataclass
class EnergyTotals:
    # Accumulated over the run (all ranks, all nodes, every resumed segment).
    gpu_measured_j: float = 0.0
    gpu_estimated_j: float = 0.0
    # The rest of each node: CPU packages + DRAM (RAPL) or node_base_power_w.
    node_measured_j: float = 0.0
    node_estimated_j: float = 0.0
    device_s: float = 0.0  # sum over devices of their time: GPU-hours x 3600
    wall_s: float = 0.0
    # How the current segment counts: per rank (GPUs) and per node; not accumulated.
    devices: int = 0
    gpus_nvml: int = 0
    gpus_estimated: int = 0
    gpus_unknown: int = 0
    nodes_rapl: int = 0
    nodes_estimated: int = 0
    nodes_unknown: int = 0

    @property
    def it_j(self) -> float:
        return sum(getattr(self, name) for name in _JOULES)

    @property
    def nodes(self) -> int:
        return self.nodes_rapl + self.nodes_estimated + self.nodes_unknown

    @property
    def counted(self) -> bool:
        """Whether any part of the run's energy is known (measured or estimated)."""
        return self.it_j > 0 or bool(
            self.gpus_nvml + self.gpus_estimated + self.nodes_rapl + self.nodes_estimated
        )

    def vector(self) -> list[float]:
        return [float(getattr(self, f.name)) for f in fields(self)]

    @classmethod
    def from_vector(cls, values: list[float]) -> EnergyTotals:
        kinds = {f.name: f.type for f in fields(cls)}
        return cls(
            **{n: (int(round(v)) if kinds[n] == "int" else v) for n, v in zip(kinds, values, strict=True)}
        )

    def plus(self, earlier: EnergyTotals) -> EnergyTotals:
        """This segment on top of what earlier segments accumulated (counts stay this segment's)."""
        out = replace(self)
        for name in (*_JOULES, "device_s", "wall_s"):
            setattr(out, name, getattr(self, name) + getattr(earlier, name))
        return out

    def state(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in (*_JOULES, "device_s", "wall_s")}

    @classmethod
    def from_state(cls, state: dict) -> EnergyTotals:
        return cls(**{k: float(state.get(k, 0.0)) for k in (*_JOULES, "device_s", "wall_s")})


def source_label(t: EnergyTotals) -> str:
    parts = []
    if t.gpu_measured_j > 0 or t.gpus_nvml:
        parts.append("measured NVML")
    if t.node_measured_j > 0 or t.nodes_rapl:
        parts.append("measured RAPL")
    if t.gpu_estimated_j > 0 or t.node_estimated_j > 0 or t.gpus_estimated or t.nodes_estimated:
        parts.append("estimated")
    if not parts:
        return "unavailable"
    label = " + ".join(parts)
    if t.gpus_unknown:
        label += f"; {t.gpus_unknown} GPU(s) not counted"
    if t.nodes_unknown:
        label += f"; the non-GPU part of {t.nodes_unknown} node(s) not counted"
    return label


def to_metrics(t: EnergyTotals, pue: float, grid_g_co2_per_kwh: float) -> dict[str, float]:
    out = {
        "gpu_hours": t.device_s / 3600,
        "wall_hours": t.wall_s / 3600,
        "devices": float(t.devices),
        "nodes": float(t.nodes),
    }
    if t.counted:
        kwh = facility_kwh(t.it_j, pue)
        out.update(
            energy_kwh=kwh,
            it_energy_kwh=t.it_j / J_PER_KWH,
            co2_kg=co2_kg(kwh, grid_g_co2_per_kwh),
            **{name.removesuffix("_j") + "_kwh": getattr(t, name) / J_PER_KWH for name in _JOULES},
        )
    return out


def from_metrics(metrics: dict) -> EnergyTotals:
    """The accumulated part of a record written by `to_metrics`."""
    t = EnergyTotals(device_s=metrics["gpu_hours"] * 3600, wall_s=metrics["wall_hours"] * 3600)
    for name in _JOULES:
        setattr(t, name, float(metrics.get(name.removesuffix("_j") + "_kwh", 0.0)) * J_PER_KWH)
    return t


def last_energy_record(metrics_jsonl: Path, chunk: int = 1 << 16) -> dict | None:
    """The newest energy record of a metrics.jsonl, read from the end (the file grows with the run)."""
    try:
        handle = open(metrics_jsonl, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return None
    with handle:
        end = handle.seek(0, os.SEEK_END)
        tail = b""
        while end > 0:
            start = max(0, end - chunk)
            handle.seek(start)
            tail = handle.read(end - start) + tail
            lines = tail.split(b"\n")
            # The first piece may be a partial line unless the read reached the file's start.
            for line in reversed(lines if start == 0 else lines[1:]):
                record = _energy_record(line)
                if record is not None:
                    return record
            tail, end = lines[0] if start else b"", start
    return None


def _energy_record(line: bytes) -> dict | None:
    if b'"energy"' not in line:
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None  # a torn last line of a killed writer
    ok = isinstance(record, dict) and (record.get("context") or {}).get("subset") == SUBSET
    return record if ok and isinstance(record.get("metrics"), dict) else None
