"""What a run costs: wall time, GPU-hours, node-hours (what HPC centres bill), energy and CO2.

Published GPU-hours are allocation hours: they include restarts after failures, checkpoint
writes, evaluations and queue gaps inside the allocation. `goodput` is the share of allocated
time that trains; 0.9 follows Meta's Llama 3 report (">90% effective training time" at 16k GPUs).
Energy is (GPUs x average GPU power + nodes x the rest of the node) x time x PUE, by the same
rule (`llm_train.energy.footprint`) the trainer uses when it has no counters to read.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_train.energy.footprint import co2_kg, estimated_power_w, facility_kwh

DEFAULT_GOODPUT = 0.9


@dataclass
class Cost:
    wall_hours: float
    gpu_hours: float
    node_hours: float
    energy_kwh: float | None
    co2_tonnes: float | None
    budget_gpu_hours: float | None = None

    @property
    def budget_fraction(self) -> float | None:
        return None if not self.budget_gpu_hours else self.gpu_hours / self.budget_gpu_hours

    def as_dict(self) -> dict[str, float | None]:
        return {
            "wall_hours": self.wall_hours,
            "wall_days": self.wall_hours / 24,
            "gpu_hours": self.gpu_hours,
            "node_hours": self.node_hours,
            "energy_kwh": self.energy_kwh,
            "co2_tonnes": self.co2_tonnes,
            "budget_gpu_hours": self.budget_gpu_hours,
            "budget_fraction": self.budget_fraction,
        }


def estimate_cost(
    train_seconds: float,
    gpus: int,
    gpus_per_node: int,
    gpu_power_w: float | None,
    node_base_power_w: float | None,
    pue: float,
    grid_g_co2_per_kwh: float,
    goodput: float = DEFAULT_GOODPUT,
    budget_gpu_hours: float | None = None,
) -> Cost:
    """Cost of `train_seconds` of pure training time on `gpus` devices."""
    if not 0 < goodput <= 1:
        raise ValueError(f"goodput must be in (0, 1], got {goodput}")
    wall_h = train_seconds / goodput / 3600
    nodes = -(-gpus // max(1, gpus_per_node))
    energy = co2 = None
    watts = estimated_power_w(gpus, nodes, gpu_power_w, node_base_power_w)
    if watts is not None:
        energy = facility_kwh(watts * wall_h * 3600, pue)
        co2 = co2_kg(energy, grid_g_co2_per_kwh) / 1000
    return Cost(wall_h, wall_h * gpus, wall_h * nodes, energy, co2, budget_gpu_hours)
