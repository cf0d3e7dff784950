"""Energy, CO2 and GPU-hours of the run, written as an `energy` record on every logged step and at
the end (metrics.jsonl and Aim, through the trainer's loggers).

Counting: each rank measures its own share (`llm_train.energy.meter`: its GPU, plus its node's
non-GPU part on local rank 0) and one all-reduce over all ranks on each logged step sums the shares,
so every GPU and every node is counted once. The reduction uses the steps every rank logs, and the
"finished"/"interrupted" events every rank reaches, so it never waits on a rank that skips it.
Counters are read on those steps and, so that a RAPL counter cannot wrap twice unseen, whenever
SAMPLE_EVERY_S have passed; other steps cost one clock read.

Resume: the totals are saved in every checkpoint and continue from the larger of the checkpoint's
and the newest energy record in metrics.jsonl. Energy spent on steps that are redone after a crash
or a rollback was still spent, so loading a checkpoint never lowers the totals.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from llm_train.energy.meter import EnergyMeter
from llm_train.energy.nvml import NVML_LIBRARY, current_gpu_uuid
from llm_train.energy.rapl import POWERCAP_ROOT
from llm_train.energy.totals import (
    SUBSET,
    EnergyTotals,
    from_metrics,
    last_energy_record,
    source_label,
    to_metrics,
)
from llm_train.trainer.callbacks import Callback

log = logging.getLogger("llm_train.progress")
SAMPLE_EVERY_S = 30.0


def sum_over_ranks(local: EnergyTotals, device: torch.device) -> EnergyTotals:
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return local
    values = torch.tensor(local.vector(), dtype=torch.float64, device=device)
    dist.all_reduce(values)
    total = EnergyTotals.from_vector(values.tolist())
    total.wall_s = local.wall_s  # time passes once, not once per rank
    return total


class EnergyCallback(Callback):
    name = "energy"

    def __init__(self, powercap_root: Path = POWERCAP_ROOT, nvml_library: str = NVML_LIBRARY):
        self.powercap_root, self.nvml_library = Path(powercap_root), nvml_library
        self.meter: EnergyMeter | None = None
        self.from_checkpoint = self.from_metrics = EnergyTotals()
        self.segment = EnergyTotals()  # this process's part, as of the last reduction
        self.steps_run = 0

    @property
    def earlier(self) -> EnergyTotals:
        """What earlier segments of the run (before this process) spent."""
        a, b = self.from_checkpoint, self.from_metrics
        return a if a.wall_s >= b.wall_s else b

    def pre_train(self, trainer) -> None:
        cfg = trainer.cfg
        if not cfg.tracking.energy:
            return
        self.energy = cfg.cluster.energy
        self.log_every, self.total_steps = cfg.train.log_every, trainer.total_steps
        self.meter = EnergyMeter(
            cfg.cluster.hardware,
            current_gpu_uuid(),
            reads_node=trainer.dist.local_rank == 0,
            powercap_root=self.powercap_root,
            nvml_library=self.nvml_library,
            has_gpu=torch.cuda.is_available(),
        )
        if trainer.dist.is_main:
            log.info("energy: %s", self.meter.describe())
            record = last_energy_record(trainer.run_dir / "metrics.jsonl")
            if record is not None:
                self.from_metrics = from_metrics(record["metrics"])

    def post_step(self, trainer, step, result, metrics) -> None:
        if self.meter is None:
            return
        self.steps_run += 1
        if step % self.log_every == 0 or step == self.total_steps:
            self._record(trainer, step)
        else:
            self.meter.sample_if_older_than(SAMPLE_EVERY_S)

    def log_event(self, trainer, step, event, fields) -> None:
        if self.meter is not None and event in ("finished", "interrupted"):
            totals = self._record(trainer, step)
            if trainer.dist.is_main:
                log.info("energy: %s", summary(totals, self.energy.pue, self.energy.grid_g_co2_per_kwh))

    def _record(self, trainer, step: int) -> EnergyTotals:
        self.meter.sample()
        self.segment = sum_over_ranks(self.meter.totals(), trainer.device)
        totals = self.segment.plus(self.earlier)
        metrics = to_metrics(totals, self.energy.pue, self.energy.grid_g_co2_per_kwh)
        trainer._hook("log_metrics", step, metrics, {"subset": SUBSET, "source": source_label(totals)})
        return totals

    def close(self, trainer) -> None:
        if self.meter is not None:
            self.meter.close()

    def state_dict(self) -> dict:
        return self.segment.plus(self.earlier).state()

    def load_state_dict(self, state: dict) -> None:
        if self.steps_run:  # a rollback: the steps being redone were paid for
            return
        self.from_checkpoint = EnergyTotals.from_state(state)


def summary(t: EnergyTotals, pue: float, grid_g_co2_per_kwh: float) -> str:
    m = to_metrics(t, pue, grid_g_co2_per_kwh)
    hours = f"{m['gpu_hours']:.3g} device-hours on {t.devices} device(s), {t.nodes} node(s)"
    if "energy_kwh" not in m:
        return f"{hours}; energy unavailable ({source_label(t)})"
    return (
        f"{m['energy_kwh']:.3g} kWh at PUE {pue:g} ({source_label(t)}), "
        f"{m['co2_kg']:.3g} kg CO2 at {grid_g_co2_per_kwh:g} g/kWh, {hours}"
    )
