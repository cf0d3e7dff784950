"""Time spent in forward passes on this rank, the straggler signal (as Megatron-LM's detector uses).

Forward passes hold no data-parallel collective, so a rank on a slow node shows a longer forward
time while the others only wait for it later, in the gradient reduction. On CUDA the time is taken
with events (no synchronisation in the step); `take` synchronises once when the total is read.
"""

from __future__ import annotations

import time

import torch


class ForwardClock:
    def __init__(self):
        self._cuda = torch.cuda.is_available()
        self._seconds = 0.0
        self._events: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []
        self._start: float | torch.cuda.Event | None = None

    def __enter__(self) -> ForwardClock:
        if self._cuda:
            self._start = torch.cuda.Event(enable_timing=True)
            self._start.record()
        else:
            self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self._cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            self._events.append((self._start, end))
        else:
            self._seconds += time.perf_counter() - self._start

    def take(self) -> float:
        """Seconds measured since the last `take`, and start again from zero."""
        if self._events:
            self._events[-1][1].synchronize()
            self._seconds += sum(s.elapsed_time(e) for s, e in self._events) / 1000.0
            self._events.clear()
        seconds, self._seconds = self._seconds, 0.0
        return seconds
