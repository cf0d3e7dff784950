"""Start N ranks of a command on this machine, torchrun-style (RANK, WORLD_SIZE, MASTER_* set).

The launcher forwards SIGTERM/SIGUSR1/SIGINT to every rank, and when one rank dies (crash,
SIGKILL) it stops the others, which would otherwise wait forever in a collective.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from llm_train.launch.ports import free_port
from llm_train.trainer.exit_codes import INTERRUPTED

log = logging.getLogger(__name__)
FORWARDED = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)
GRACE_S = 30.0


def rank_env(rank: int, nproc: int, port: int, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(nproc),
        LOCAL_WORLD_SIZE=str(nproc),
        GROUP_RANK="0",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    # Share the cores instead of every rank starting one thread per core.
    env.setdefault("DS_ACCELERATOR", "cpu" if not _has_cuda() else "cuda")
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    return env


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def combined_exit_code(codes: list[int]) -> int:
    """0 if all ranks finished; INTERRUPTED if all finished or were interrupted; else the first failure."""
    if all(c == 0 for c in codes):
        return 0
    if all(c in (0, INTERRUPTED) for c in codes):
        return INTERRUPTED
    failures = [c for c in codes if c not in (0, INTERRUPTED)]
    return failures[0] if failures[0] > 0 else 1


def spawn(nproc: int, cmd: list[str]) -> int:
    port = free_port()
    procs = [subprocess.Popen(cmd, env=rank_env(r, nproc, port)) for r in range(nproc)]
    log.info("started %d local ranks (pids %s), master port %d", nproc, [p.pid for p in procs], port)

    def forward(signum, frame):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        return _wait(procs)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait(procs: list[subprocess.Popen]) -> int:
    deadline = None
    while True:
        codes = [p.poll() for p in procs]
        if all(c is not None for c in codes):
            return combined_exit_code(codes)
        failed = [c for c in codes if c is not None and c not in (0, INTERRUPTED)]
        if failed and deadline is None:
            log.error("a rank exited with %d: stopping the others", failed[0])
            deadline = time.monotonic() + GRACE_S
            for p in procs:
                if p.poll() is None:
                    p.terminate()
        if deadline is not None and time.monotonic() > deadline:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        time.sleep(0.2)


def python_module_cmd(module: str, args: list[str]) -> list[str]:
    return [sys.executable, "-m", module, *args]
