"""Clean stop on SIGTERM / SIGUSR1 (Slurm's pre-timeout signal): finish the step, checkpoint, exit 124.

The handler only sets a flag; all ranks agree on stopping with one all-reduce per step, since a
signal may reach only some of them.
"""

from __future__ import annotations

import logging
import signal

import torch

log = logging.getLogger(__name__)
SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class StopOnSignal:
    def __init__(self):
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def install(self) -> None:
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        if self.received is None:
            log.warning(
                "received %s: stopping after this step with a checkpoint", signal.Signals(signum).name
            )
        self.received = signum

    def should_stop(self, device: torch.device) -> bool:
        flag = torch.tensor([1.0 if self.received is not None else 0.0], device=device)
        if torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())
