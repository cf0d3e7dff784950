"""One rank's share of the run's energy, so that a sum over ranks counts every GPU and node once.

Every rank counts the GPU it drives (NVML, else the profile's gpu_power_w x time); the local rank 0
of each node also counts that node's non-GPU part (RAPL, else node_base_power_w x time). Nothing
here fails a run: a counter that is absent or stops being readable falls back to the estimate, and
a part the profile has no figure for is reported as not counted.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from llm_train.config.cluster import HardwareConfig
from llm_train.energy.nvml import NVML_LIBRARY, NvmlReader
from llm_train.energy.rapl import POWERCAP_ROOT, RaplReader
from llm_train.energy.totals import EnergyTotals

log = logging.getLogger(__name__)


class _Part:
    """A counter if there is one, else a fixed power x time, else nothing."""

    def __init__(self, what: str, reader, reason: str, power_w: float | None):
        self.what, self.reader, self.reason, self.power_w = what, reader, reason, power_w
        self.measured_j = self.estimated_j = 0.0

    @property
    def method(self) -> str:
        return "measured" if self.reader else "estimated" if self.power_w else "unknown"

    def sample(self, dt: float) -> None:
        if self.reader is not None:
            try:
                self.measured_j = self.reader.read_j()
                return
            except (OSError, ValueError) as exc:
                log.warning("energy: %s counter failed (%s); estimating it from now on", self.what, exc)
                self.reader, self.reason = None, f"counter failed: {exc}"
        if self.power_w:
            self.estimated_j += self.power_w * dt

    def describe(self) -> str:
        if self.method == "measured":
            return f"{self.what} measured ({self.reason})"
        setting = "gpu_power_w" if self.what == "GPU" else "node_base_power_w"
        if self.method == "estimated":
            return f"{self.what} estimated at {self.power_w:g} W (cluster.hardware.{setting}; {self.reason})"
        return f"{self.what} not counted ({self.reason}; cluster.hardware.{setting} is not set)"


class EnergyMeter:
    def __init__(
        self,
        hardware: HardwareConfig,
        gpu_uuid: str | None,
        reads_node: bool,
        powercap_root: Path = POWERCAP_ROOT,
        nvml_library: str = NVML_LIBRARY,
        has_gpu: bool | None = None,
    ):
        """`gpu_uuid`: NVML's name of this rank's GPU; `has_gpu` (default: a UUID was given) also
        covers GPUs NVML cannot see (AMD), which are then estimated."""
        self.gpu = self.node = None
        if gpu_uuid is not None or has_gpu:
            reader, reason = (
                NvmlReader.open(gpu_uuid, nvml_library)
                if gpu_uuid is not None
                else (None, "no NVML for this device (not an NVIDIA GPU)")
            )
            self.gpu = _Part("GPU", reader, reason, hardware.gpu_power_w)
        if reads_node:
            reader, reason = RaplReader.open(powercap_root)
            self.node = _Part("node", reader, reason, hardware.node_base_power_w)
        self.started = self.last = time.monotonic()

    def parts(self) -> list[_Part]:
        return [p for p in (self.gpu, self.node) if p is not None]

    def sample(self) -> None:
        now = time.monotonic()
        for part in self.parts():
            part.sample(now - self.last)
        self.last = now

    def sample_if_older_than(self, seconds: float) -> None:
        if time.monotonic() - self.last >= seconds:
            self.sample()

    def totals(self) -> EnergyTotals:
        """This rank's share as of the last sample."""
        elapsed = self.last - self.started
        t = EnergyTotals(device_s=elapsed, wall_s=elapsed, devices=1)
        if self.gpu is not None:
            t.gpu_measured_j, t.gpu_estimated_j = self.gpu.measured_j, self.gpu.estimated_j
            field = {"measured": "gpus_nvml", "estimated": "gpus_estimated", "unknown": "gpus_unknown"}
            setattr(t, field[self.gpu.method], 1)
        if self.node is not None:
            t.node_measured_j, t.node_estimated_j = self.node.measured_j, self.node.estimated_j
            field = {"measured": "nodes_rapl", "estimated": "nodes_estimated", "unknown": "nodes_unknown"}
            setattr(t, field[self.node.method], 1)
        return t

    def describe(self) -> str:
        return "; ".join(p.describe() for p in self.parts()) or "nothing to count on this rank"

    def close(self) -> None:
        for part in self.parts():
            if part.reader is not None:
                part.reader.close()
