"""Energy readers on CPU: RAPL against a handmade /sys/class/powercap tree (several packages, DRAM,
psys, a wrap-around, an unreadable package), the fallback labels when neither NVML nor RAPL can be
read, and the PUE / CO2 arithmetic shared with `llm-train plan`."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from llm_train.config.cluster import HardwareConfig
from llm_train.energy.footprint import co2_kg, estimated_power_w, facility_kwh
from llm_train.energy.meter import EnergyMeter
from llm_train.energy.rapl import RaplReader
from llm_train.energy.totals import (
    EnergyTotals,
    from_metrics,
    last_energy_record,
    source_label,
    to_metrics,
)
from llm_train.plan.cost import estimate_cost

MAX_RANGE = 262_143_328_850  # a real package's max_energy_range_uj
NO_NVML = "libnvidia-ml-not-here.so.1"


def zone(path: Path, name: str, energy_uj: int, max_range: int = MAX_RANGE) -> Path:
    path.mkdir(parents=True)
    (path / "name").write_text(name + "\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{max_range}\n")
    return path


def set_counter(zone_dir: Path, energy_uj: int) -> None:
    (zone_dir / "energy_uj").write_text(f"{energy_uj}\n")


def powercap(root: Path) -> dict[str, Path]:
    """Two sockets with core + DRAM sub-zones, a laptop-style psys zone and an MMIO duplicate."""
    (root / "intel-rapl").mkdir(parents=True)  # the control type, not a zone
    z = {
        "pkg0": zone(root / "intel-rapl:0", "package-0", 1_000_000),
        "pkg1": zone(root / "intel-rapl:1", "package-1", MAX_RANGE - 2_000_000),
        "psys": zone(root / "intel-rapl:2", "psys", 5_000_000),
        "mmio": zone(root / "intel-rapl-mmio:0", "package-0", 7_000_000),
    }
    z["core0"] = zone(z["pkg0"] / "intel-rapl:0:0", "core", 100)
    z["dram0"] = zone(z["pkg0"] / "intel-rapl:0:1", "dram", 3_000_000, max_range=65_712_999_613)
    z["dram1"] = zone(z["pkg1"] / "intel-rapl:1:0", "dram", 0, max_range=65_712_999_613)
    return z


def test_rapl_counts_packages_and_dram_across_a_wrap(tmp_path):
    z = powercap(tmp_path)
    reader, reason = RaplReader.open(tmp_path)
    assert reader is not None, reason
    assert [zn.path.name for zn in reader.zones] == [
        "intel-rapl:0",
        "intel-rapl:0:1",
        "intel-rapl:1",
        "intel-rapl:1:0",
    ]
    assert reader.read_j() == 0.0

    set_counter(z["pkg0"], 1_000_000 + 40_000_000)  # +40 J
    set_counter(z["pkg1"], 3_000_000)  # wrapped: +2 J to the top, +3 J after it
    set_counter(z["dram0"], 3_000_000 + 6_000_000)  # +6 J
    set_counter(z["dram1"], 500_000)  # +0.5 J
    set_counter(z["core0"], 10**9)  # part of the package figure: not added
    set_counter(z["psys"], 10**10)  # the whole platform: not added
    set_counter(z["mmio"], 10**10)  # the same package over MMIO: not added
    assert reader.read_j() == pytest.approx(40 + 5 + 6 + 0.5)

    set_counter(z["pkg0"], 1_000_000 + 50_000_000)  # +10 J more
    assert reader.read_j() == pytest.approx(61.5)


def _open_as_nobody(root: Path) -> tuple[bool, str]:
    """RaplReader.open as an unprivileged user (root reads a 0400 file anyway)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            reader, reason = RaplReader.open(root)
            os.write(write_fd, json.dumps([reader is not None, reason]).encode())
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(write_fd, json.dumps([None, repr(exc)]).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    ok, reason = json.loads(data)
    assert ok is not None, f"the unprivileged check failed: {reason}"
    return ok, reason


def test_an_unreadable_package_means_the_node_is_not_measured(tmp_path):
    # Outside pytest's 0700 temp root, so that an unprivileged user can reach it.
    tmp_path = Path(tempfile.mkdtemp(prefix="powercap-"))
    try:
        _check_unreadable(tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _check_unreadable(tmp_path: Path) -> None:
    z = powercap(tmp_path / "powercap")
    # What Linux >= 5.10 does for non-root users (CVE-2020-8694): energy_uj is 0400 root.
    os.chmod(z["pkg1"] / "energy_uj", 0o400)
    # Readable by the unprivileged user whatever umask an earlier test's storage policy left.
    for d in [tmp_path, *sorted(tmp_path.rglob("*"))]:
        if d.is_dir():
            os.chmod(d, 0o755)
        elif d != z["pkg1"] / "energy_uj":
            os.chmod(d, 0o644)
    if os.geteuid() == 0:
        ok, reason = _open_as_nobody(tmp_path / "powercap")
    else:
        os.chmod(z["pkg1"] / "energy_uj", 0o000)
        reader, reason = RaplReader.open(tmp_path / "powercap")
        ok = reader is not None
    # Counting package-0 alone would undercount the node: no RAPL figure at all, and why.
    assert not ok
    assert str(z["pkg1"] / "energy_uj") in reason and "Permission denied" in reason


def test_missing_or_empty_powercap(tmp_path):
    assert RaplReader.open(tmp_path / "absent") == (None, f"no RAPL: {tmp_path / 'absent'} does not exist")
    (tmp_path / "empty").mkdir()
    reader, reason = RaplReader.open(tmp_path / "empty")
    assert reader is None and "no package zone" in reason
    zone(tmp_path / "garbled" / "intel-rapl:0", "package-0", 0)
    (tmp_path / "garbled" / "intel-rapl:0" / "energy_uj").write_text("not a number\n")
    reader, reason = RaplReader.open(tmp_path / "garbled")
    assert reader is None and "energy_uj" in reason


def hardware(**kw) -> HardwareConfig:
    return HardwareConfig(accelerator="nvidia", gpus_per_node=4, **kw)


def test_fallback_is_labelled_estimated_when_neither_nvml_nor_rapl_is_readable(tmp_path):
    meter = EnergyMeter(
        hardware(gpu_power_w=400, node_base_power_w=500),
        gpu_uuid="GPU-00000000-0000-0000-0000-000000000000",
        reads_node=True,
        powercap_root=tmp_path / "no-powercap",
        nvml_library=NO_NVML,
    )
    meter.sample()
    t = meter.totals()
    elapsed = meter.last - meter.started
    assert t.gpu_measured_j == 0 and t.node_measured_j == 0
    assert t.gpu_estimated_j == pytest.approx(400 * elapsed)
    assert t.node_estimated_j == pytest.approx(500 * elapsed)
    assert source_label(t) == "estimated"
    assert "GPU estimated at 400 W" in meter.describe() and NO_NVML in meter.describe()
    assert "node estimated at 500 W" in meter.describe() and "no RAPL" in meter.describe()

    # No power figure for the rest of the node: the GPUs are still estimated, the gap is named.
    gpu_only = EnergyMeter(hardware(gpu_power_w=400), "GPU-x", True, tmp_path / "none", NO_NVML)
    gpu_only.sample()
    assert source_label(gpu_only.totals()) == "estimated; the non-GPU part of 1 node(s) not counted"

    # An AMD GPU (no NVML name): estimated from the profile like any GPU without a counter.
    amd = EnergyMeter(hardware(gpu_power_w=280), None, False, tmp_path / "none", NO_NVML, has_gpu=True)
    amd.sample()
    assert amd.totals().gpus_estimated == 1 and "not an NVIDIA GPU" in amd.describe()

    # Nothing readable and no figures: no energy is written, only the hours.
    bare = EnergyMeter(HardwareConfig(), None, True, tmp_path / "none", NO_NVML)
    bare.sample()
    assert source_label(bare.totals()) == "unavailable"
    metrics = to_metrics(bare.totals(), pue=1.2, grid_g_co2_per_kwh=300)
    assert set(metrics) == {"gpu_hours", "wall_hours", "devices", "nodes"}


def test_a_counter_that_fails_mid_run_falls_back_to_the_estimate(tmp_path):
    z = powercap(tmp_path)
    meter = EnergyMeter(HardwareConfig(node_base_power_w=100), None, True, tmp_path, NO_NVML)
    assert source_label(meter.totals()) == "measured RAPL"
    set_counter(z["pkg0"], 1_000_000 + 7_000_000)
    meter.sample()
    assert meter.totals().node_measured_j == pytest.approx(7.0)
    (z["dram1"] / "energy_uj").unlink()  # e.g. a driver reload
    meter.sample()
    meter.sample()
    t = meter.totals()
    assert t.node_measured_j == pytest.approx(7.0) and t.node_estimated_j > 0
    assert t.nodes_estimated == 1 and source_label(t) == "measured RAPL + estimated"


def test_pue_and_co2_arithmetic():
    t = EnergyTotals(
        gpu_measured_j=3.6e6,  # 1 kWh at the GPUs
        node_estimated_j=1.8e6,  # 0.5 kWh in the rest of the node
        device_s=4 * 3600,
        wall_s=3600,
        devices=4,
        gpus_nvml=4,
        nodes_estimated=1,
    )
    m = to_metrics(t, pue=1.2, grid_g_co2_per_kwh=300)
    assert m["it_energy_kwh"] == pytest.approx(1.5)
    assert m["energy_kwh"] == pytest.approx(1.8)  # x PUE
    assert m["co2_kg"] == pytest.approx(0.54)  # 1.8 kWh x 300 g/kWh
    assert m["gpu_hours"] == pytest.approx(4.0) and m["wall_hours"] == pytest.approx(1.0)
    assert (m["devices"], m["nodes"]) == (4.0, 1.0)
    assert m["gpu_measured_kwh"] == pytest.approx(1.0) and m["node_estimated_kwh"] == pytest.approx(0.5)
    assert source_label(t) == "measured NVML + estimated"
    back = from_metrics(m)
    assert back.state() == pytest.approx(t.state())

    assert estimated_power_w(8, 2, 400, 500) == 8 * 400 + 2 * 500
    assert estimated_power_w(2, 1, None, 150) == 150  # CPU-only nodes
    assert estimated_power_w(8, 2, None, None) is None
    assert facility_kwh(3.6e6, 1.5) == pytest.approx(1.5) and co2_kg(2.0, 250) == pytest.approx(0.5)
    # The plan uses the same rule: one hour of 8 GPUs on 2 nodes at goodput 1.
    cost = estimate_cost(3600, 8, 4, 400, 500, pue=1.2, grid_g_co2_per_kwh=300, goodput=1.0)
    assert cost.energy_kwh == pytest.approx(4.2 * 1.2)
    assert cost.co2_tonnes == pytest.approx(cost.energy_kwh * 300 / 1e6)


def test_the_newest_energy_record_is_found_from_the_end(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = []
    for step in range(1, 3001):
        lines.append(json.dumps({"step": step, "context": {"subset": "train"}, "metrics": {"loss": 1.0}}))
        if step % 1000 == 0:
            ctx = {"subset": "energy", "source": "estimated"}
            lines.append(json.dumps({"step": step, "context": ctx, "metrics": {"gpu_hours": step}}))
    path.write_text("\n".join(lines) + '\n{"step": 3001, "context": {"subset": "ener')  # torn by a kill
    assert last_energy_record(path, chunk=256)["step"] == 3000
    assert last_energy_record(path)["metrics"] == {"gpu_hours": 3000}
    assert last_energy_record(tmp_path / "none.jsonl") is None
    path.write_text(lines[0] + "\n")
    assert last_energy_record(path) is None
