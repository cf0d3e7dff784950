"""Loss-spike and NaN policy: skip bad steps; after K bad steps in a window, roll back.

A step is bad if its loss is non-finite, or (after `warmup_steps` good steps of history) above
mean + zscore * std of the last `window` good losses. The trainer asks `is_bad` between the
backend's backward and its update, so a bad step never changes the weights, on any backend. The
trainer acts on `rollback_due`.
"""

from __future__ import annotations

import math
import statistics
from collections import deque

from llm_train.config.train import SpikePolicyConfig


class SpikePolicy:
    def __init__(self, cfg: SpikePolicyConfig):
        self.cfg = cfg
        self.history: deque[float] = deque(maxlen=cfg.window)
        self.bad_steps: deque[int] = deque()
        self.rollbacks = 0

    def is_bad(self, loss: float) -> bool:
        if not math.isfinite(loss):
            return True
        if not self.cfg.enabled or len(self.history) < max(2, self.cfg.warmup_steps):
            return False
        mean, std = statistics.fmean(self.history), statistics.pstdev(self.history)
        return loss > mean + self.cfg.zscore * std

    def observe(self, step: int, loss: float, skipped: bool) -> None:
        if skipped:
            self.bad_steps.append(step)
        elif math.isfinite(loss):
            self.history.append(loss)
        while self.bad_steps and self.bad_steps[0] <= step - self.cfg.window:
            self.bad_steps.popleft()

    @property
    def rollback_due(self) -> bool:
        return self.cfg.enabled and len(self.bad_steps) >= self.cfg.max_bad_steps

    def after_rollback(self, rollbacks: int) -> None:
        """State right after loading a checkpoint: its history, no bad steps, the rollback count kept."""
        self.bad_steps.clear()
        self.rollbacks = rollbacks

    def state_dict(self) -> dict:
        return {"history": list(self.history), "bad_steps": list(self.bad_steps), "rollbacks": self.rollbacks}

    def load_state_dict(self, state: dict) -> None:
        self.history = deque((float(x) for x in state["history"]), maxlen=self.cfg.window)
        self.bad_steps = deque(int(x) for x in state["bad_steps"])
        self.rollbacks = int(state["rollbacks"])
