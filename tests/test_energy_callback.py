"""The energy callback on a stand-in trainer: records on logged steps and at the end, exact RAPL
joules through PUE and grid intensity, and totals that survive a resume and never go down."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from llm_train.config.cluster import ClusterConfig, EnergyConfig, HardwareConfig
from llm_train.config.runtime import TrackingConfig
from llm_train.config.train import TrainConfig
from llm_train.launch.dist_env import DistEnv
from llm_train.tracking.jsonl import JsonlWriter
from llm_train.trainer.energy import EnergyCallback
from tests.test_energy_readers import NO_NVML, powercap, set_counter

PUE, GRID = 1.5, 200.0
J_PER_KWH = 3.6e6


class StandInTrainer:
    """What the callback uses of the trainer: config, ranks, run dir, the logger fan-out."""

    def __init__(self, run_dir: Path, energy: bool = True, steps: int = 6):
        self.cfg = SimpleNamespace(
            tracking=TrackingConfig(energy=energy),
            train=TrainConfig(steps=steps, log_every=2),
            cluster=ClusterConfig(
                hardware=HardwareConfig(node_base_power_w=100),
                energy=EnergyConfig(pue=PUE, grid_g_co2_per_kwh=GRID),
            ),
        )
        self.dist = DistEnv(0, 0, 1, 1, 0, 1, "127.0.0.1", 29500, "single")
        self.run_dir, self.total_steps, self.device = run_dir, steps, torch.device("cpu")
        self.records: list[tuple[int, dict, dict]] = []
        self.jsonl = JsonlWriter(run_dir / "metrics.jsonl")

    def _hook(self, name, step, metrics, context):
        assert name == "log_metrics"
        self.records.append((step, metrics, context))
        self.jsonl.log(step, metrics, context)


def run_steps(
    cb: EnergyCallback, trainer: StandInTrainer, steps: range, pkg0: Path, uj_per_step: int, start_uj: int
):
    for step in steps:
        set_counter(pkg0, start_uj + step * uj_per_step)
        cb.post_step(trainer, step, None, {})


def test_records_on_logged_steps_and_at_the_end_with_exact_rapl_joules(tmp_path):
    z = powercap(tmp_path / "powercap")
    trainer = StandInTrainer(tmp_path / "run")
    cb = EnergyCallback(powercap_root=tmp_path / "powercap", nvml_library=NO_NVML)
    cb.pre_train(trainer)
    run_steps(cb, trainer, range(1, 7), z["pkg0"], 3_600_000, 1_000_000)  # 3.6 J per step
    set_counter(z["pkg0"], 1_000_000 + 7 * 3_600_000)  # the final checkpoint: 3.6 J more
    cb.log_event(trainer, 6, "finished", {})

    assert [(s, c) for s, _, c in trainer.records] == [
        (s, {"subset": "energy", "source": "measured RAPL"}) for s in (2, 4, 6, 6)
    ]
    for (step, m, _), joules in zip(trainer.records, (7.2, 14.4, 21.6, 25.2), strict=True):
        assert m["node_measured_kwh"] == pytest.approx(joules / J_PER_KWH), step
        assert m["it_energy_kwh"] == pytest.approx(joules / J_PER_KWH)
        assert m["energy_kwh"] == pytest.approx(joules / J_PER_KWH * PUE)
        assert m["co2_kg"] == pytest.approx(m["energy_kwh"] * GRID / 1000)
        assert m["gpu_estimated_kwh"] == m["node_estimated_kwh"] == m["gpu_measured_kwh"] == 0
        assert (m["devices"], m["nodes"]) == (1, 1) and m["gpu_hours"] == pytest.approx(m["wall_hours"])
    hours = [m["gpu_hours"] for _, m, _ in trainer.records]
    assert hours == sorted(hours) and hours[0] > 0


def test_a_resumed_run_continues_the_totals(tmp_path):
    z = powercap(tmp_path / "powercap")
    first = StandInTrainer(tmp_path / "run-a")
    cb = EnergyCallback(tmp_path / "powercap", NO_NVML)
    cb.pre_train(first)
    run_steps(cb, first, range(1, 5), z["pkg0"], 1_000_000, 1_000_000)  # 1 J per step
    state = cb.state_dict()  # what checkpoint step 4 holds
    assert state["node_measured_j"] == pytest.approx(4.0) and state["wall_s"] > 0

    # A new process on a new run dir (no metrics.jsonl): the checkpoint carries the totals.
    second = StandInTrainer(tmp_path / "run-b")
    resumed = EnergyCallback(tmp_path / "powercap", NO_NVML)
    resumed.pre_train(second)
    resumed.load_state_dict(state)
    run_steps(resumed, second, range(5, 7), z["pkg0"], 1_000_000, 1_000_000)
    step, m, _ = second.records[-1]
    assert step == 6 and m["node_measured_kwh"] == pytest.approx((4.0 + 2.0) / J_PER_KWH)
    assert m["wall_hours"] * 3600 > state["wall_s"]

    # A rollback inside the run reloads an older checkpoint: energy already spent stays counted.
    resumed.load_state_dict(state)
    set_counter(z["pkg0"], 1_000_000 + 8_000_000)
    resumed.post_step(second, 8, None, {})
    assert second.records[-1][1]["node_measured_kwh"] == pytest.approx(8.0 / J_PER_KWH)


def test_energy_after_the_checkpoint_is_recovered_from_metrics_jsonl(tmp_path):
    """Killed after step 4 with a checkpoint at step 2: steps 3-4 were paid for and are redone."""
    z = powercap(tmp_path / "powercap")
    trainer = StandInTrainer(tmp_path / "run")
    cb = EnergyCallback(tmp_path / "powercap", NO_NVML)
    cb.pre_train(trainer)
    run_steps(cb, trainer, range(1, 3), z["pkg0"], 1_000_000, 1_000_000)
    checkpoint_state = cb.state_dict()
    run_steps(cb, trainer, range(3, 5), z["pkg0"], 1_000_000, 1_000_000)
    trainer.jsonl.close()

    again = StandInTrainer(tmp_path / "run")  # the same run dir, a new process
    resumed = EnergyCallback(tmp_path / "powercap", NO_NVML)
    resumed.pre_train(again)
    resumed.load_state_dict(checkpoint_state)
    assert resumed.state_dict()["node_measured_j"] == pytest.approx(4.0)  # not 2.0


def test_turned_off_writes_nothing_and_keeps_the_saved_totals(tmp_path):
    trainer = StandInTrainer(tmp_path / "run", energy=False)
    cb = EnergyCallback(tmp_path / "none", NO_NVML)
    cb.pre_train(trainer)
    cb.load_state_dict({"node_estimated_j": 5.0, "device_s": 7.0, "wall_s": 7.0})
    for step in range(1, 7):
        cb.post_step(trainer, step, None, {})
    cb.log_event(trainer, 6, "finished", {})
    cb.close(trainer)
    assert trainer.records == []
    assert cb.state_dict()["node_estimated_j"] == 5.0
