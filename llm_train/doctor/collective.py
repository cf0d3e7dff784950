"""A 2-process all_reduce on this node: proves the collective backend works before a job does.

gloo over 127.0.0.1 on CPU; nccl (rccl on ROCm) when two GPUs are visible.
"""

from __future__ import annotations

import os
from datetime import timedelta

from llm_train.doctor.checks import Check, Status
from llm_train.launch.ports import free_port

WORLD = 2


def _worker(rank: int, port: int, backend: str, results) -> None:  # pragma: no cover - child process
    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group(backend, rank=rank, world_size=WORLD, timeout=timedelta(seconds=60))
    try:
        device = torch.device("cuda", rank) if backend == "nccl" else torch.device("cpu")
        if backend == "nccl":
            torch.cuda.set_device(device)
        t = torch.full((1024,), float(rank + 1), device=device)
        dist.all_reduce(t)
        results.put((rank, float(t.sum().item())))
    finally:
        dist.destroy_process_group()


def collective_smoke_test(timeout_s: float = 120.0) -> Check:
    import torch
    import torch.multiprocessing as mp

    backend = "nccl" if torch.cuda.is_available() and torch.cuda.device_count() >= WORLD else "gloo"
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_worker, args=(r, port, backend, results), daemon=True) for r in range(WORLD)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout_s)
    alive = [p for p in procs if p.is_alive()]
    for p in alive:
        p.terminate()
        p.join(5)
    got = {}
    while not results.empty():
        rank, value = results.get()
        got[rank] = value
    expected = 1024 * sum(range(1, WORLD + 1))
    hint = "check NCCL/GLOO_SOCKET_IFNAME and that 127.0.0.1 ports are usable; rerun with NCCL_DEBUG=INFO"
    if alive:
        return Check(f"collective ({backend})", Status.FAIL, f"timed out after {timeout_s:.0f} s", hint)
    if len(got) != WORLD or any(v != expected for v in got.values()):
        codes = [p.exitcode for p in procs]
        return Check(
            f"collective ({backend})", Status.FAIL, f"all_reduce gave {got}, exit codes {codes}", hint
        )
    return Check(f"collective ({backend})", Status.PASS, f"{WORLD}-process all_reduce correct")
