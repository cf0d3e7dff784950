"""Learning-rate schedules as pure functions of the optimizer step.

A pure function (no scheduler object with hidden state) makes resume trivially exact: the LR at
step N depends only on N and the config. The trainer calls `lr_at` before each optimizer step and
hands the value to the backend (`TrainBackend.optimizer_step`): one schedule for every backend.
"""

from __future__ import annotations

import math

from llm_train.config.train import TrainConfig


def lr_at(step: int, t: TrainConfig, total_steps: int) -> float:
    """LR for optimizer step `step` (0-based) of `total_steps`.

    - every schedule: linear warmup from lr/warmup to lr over `warmup_steps`;
    - cosine: cosine decay to `min_lr` at the last step;
    - linear: linear decay to `min_lr`;
    - wsd (warmup-stable-decay): constant `lr`, then the last `decay_fraction` of steps decays
      linearly to `min_lr` (MiniCPM, arXiv:2404.06395);
    - constant: `lr` after warmup.
    """
    if t.warmup_steps and step < t.warmup_steps:
        return t.lr * (step + 1) / t.warmup_steps
    if t.schedule == "constant":
        return t.lr
    if t.schedule == "wsd":
        decay_steps = max(1, round(total_steps * t.decay_fraction))
        decay_start = max(t.warmup_steps, total_steps - decay_steps)
        if step < decay_start:
            return t.lr
        progress = min(1.0, (step - decay_start + 1) / max(1, total_steps - decay_start))
        return t.lr - (t.lr - t.min_lr) * progress
    span = max(1, total_steps - t.warmup_steps - 1)
    progress = min(1.0, max(0.0, (step - t.warmup_steps) / span))
    if t.schedule == "linear":
        return t.lr - (t.lr - t.min_lr) * progress
    return t.min_lr + 0.5 * (t.lr - t.min_lr) * (1.0 + math.cos(math.pi * progress))


def total_steps(t: TrainConfig) -> int:
    """Optimizer steps of the run: `train.steps`, or `train.tokens` rounded up to whole steps."""
    if t.steps is not None:
        return t.steps
    per_step = t.global_batch_size * t.seq_length
    return max(1, -(-t.tokens // per_step))
