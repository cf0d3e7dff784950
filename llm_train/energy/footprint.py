"""The arithmetic shared by `llm-train plan` and the measured figures: IT power from the profile,
facility energy (x PUE) and CO2 (x grid intensity)."""

from __future__ import annotations

J_PER_KWH = 3.6e6


def estimated_power_w(
    gpus: int, nodes: int, gpu_power_w: float | None, node_base_power_w: float | None
) -> float | None:
    """GPUs x average GPU draw + nodes x the rest of a node; None when the profile states neither."""
    if not gpu_power_w and not node_base_power_w:
        return None
    return gpus * (gpu_power_w or 0.0) + nodes * (node_base_power_w or 0.0)


def facility_kwh(it_joules: float, pue: float) -> float:
    """Energy drawn by the data centre for `it_joules` at the devices (cooling, power conversion)."""
    return it_joules / J_PER_KWH * pue


def co2_kg(kwh: float, grid_g_co2_per_kwh: float) -> float:
    return kwh * grid_g_co2_per_kwh / 1000
