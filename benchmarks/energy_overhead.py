"""Per-step cost of the energy callback (llm_train.trainer.energy), on its own.

Times the callback's `post_step` on steps that are not logged (a clock read) and on logged steps
(read every counter, sum the shares over ranks, build the record; the record's write is the
trackers' cost and is left out), for 1 rank and for 2 ranks in a gloo process group on loopback.
RAPL is read from a handmade powercap tree (2 packages + 2 DRAM zones) when this machine's own is
absent or unreadable; sysfs reads of the real counters add a few microseconds each (an MSR read).

    python benchmarks/energy_overhead.py [--steps 2000] [--log-every 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from llm_train.config.cluster import ClusterConfig, HardwareConfig  # noqa: E402
from llm_train.config.runtime import TrackingConfig  # noqa: E402
from llm_train.config.train import TrainConfig  # noqa: E402
from llm_train.energy.rapl import POWERCAP_ROOT, RaplReader  # noqa: E402
from llm_train.launch.dist_env import DistEnv  # noqa: E402
from llm_train.trainer.energy import EnergyCallback  # noqa: E402


def handmade_powercap(root: Path) -> Path:
    for pkg in (0, 1):
        for path, name in (
            (root / f"intel-rapl:{pkg}", f"package-{pkg}"),
            (root / f"intel-rapl:{pkg}" / f"intel-rapl:{pkg}:0", "dram"),
        ):
            path.mkdir(parents=True)
            (path / "name").write_text(name + "\n")
            (path / "energy_uj").write_text("123456789\n")
            (path / "max_energy_range_uj").write_text("262143328850\n")
    return root


def measure(rank: int, world: int, steps: int, log_every: int, powercap: str, port: int, out) -> None:
    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    trainer = SimpleNamespace(
        cfg=SimpleNamespace(
            tracking=TrackingConfig(),
            train=TrainConfig(steps=steps, log_every=log_every),
            cluster=ClusterConfig(hardware=HardwareConfig(node_base_power_w=300)),
        ),
        dist=DistEnv(rank, rank, world, world, 0, 1, "127.0.0.1", port, "single"),
        run_dir=Path(tempfile.mkdtemp()),
        total_steps=steps,
        device=torch.device("cpu"),
        _hook=lambda *args: None,
    )
    cb = EnergyCallback(powercap_root=Path(powercap))
    cb.pre_train(trainer)
    plain, logged = [], []
    for step in range(1, steps + 1):
        t0 = time.perf_counter()
        cb.post_step(trainer, step, None, {})
        (logged if step % log_every == 0 else plain).append(time.perf_counter() - t0)
    if rank == 0:
        out.put((statistics.median(plain) * 1e6, statistics.median(logged) * 1e6, cb.meter.describe()))
    if world > 1:
        dist.destroy_process_group()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--log-every", type=int, default=10)
    args = p.parse_args()
    torch.set_num_threads(1)
    powercap = (
        POWERCAP_ROOT if RaplReader.open()[0] else handmade_powercap(Path(tempfile.mkdtemp()) / "powercap")
    )
    ctx = mp.get_context("spawn")
    for world in (1, 2):
        out = ctx.Queue()
        port = 29700 + os.getpid() % 1000
        procs = [
            ctx.Process(target=measure, args=(r, world, args.steps, args.log_every, str(powercap), port, out))
            for r in range(world)
        ]
        for proc in procs:
            proc.start()
        plain_us, logged_us, what = out.get()
        for proc in procs:
            proc.join()
        per_step = (plain_us * (args.log_every - 1) + logged_us) / args.log_every
        print(
            f"{world} rank(s), log_every {args.log_every}: not-logged step {plain_us:.1f} us, logged step "
            f"{logged_us:.1f} us -> {per_step:.1f} us per step on average ({what})"
        )


if __name__ == "__main__":
    main()
