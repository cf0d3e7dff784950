"""Which checkpoints to keep: the newest K, every M-th step, and always the newest ready one."""

from __future__ import annotations


def steps_to_delete(ready_steps: list[int], keep_last: int, keep_every: int) -> list[int]:
    steps = sorted(set(ready_steps))
    if not steps:
        return []
    keep = set(steps[-max(1, keep_last) :])  # max(1, ...): never delete the last good one
    if keep_every:
        keep |= {s for s in steps if s % keep_every == 0}
    return [s for s in steps if s not in keep]
