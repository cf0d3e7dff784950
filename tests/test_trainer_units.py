"""Fast unit tests of the trainer's pure parts: schedules, spike policy, retention, exit codes."""

from __future__ import annotations

import math

import pytest

from llm_train.checkpoint.retention import steps_to_delete
from llm_train.config.train import SpikePolicyConfig, TrainConfig
from llm_train.launch.local import combined_exit_code
from llm_train.trainer.lr_schedule import lr_at, total_steps
from llm_train.trainer.spike import SpikePolicy


def cfg(**kw) -> TrainConfig:
    return TrainConfig(steps=100, lr=1.0, min_lr=0.1, warmup_steps=10, **kw)


def test_warmup_then_cosine_reaches_min_lr():
    t = cfg(schedule="cosine")
    lrs = [lr_at(s, t, 100) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert lrs[-1] == pytest.approx(0.1)
    assert lrs[55] == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi * 45 / 89)))


def test_wsd_is_flat_then_decays_in_the_last_fraction():
    t = cfg(schedule="wsd", decay_fraction=0.2)
    assert [lr_at(s, t, 100) for s in (10, 50, 79)] == [1.0, 1.0, 1.0]
    assert lr_at(80, t, 100) < 1.0 and lr_at(99, t, 100) == pytest.approx(0.1)


def test_constant_and_tokens_to_steps():
    t = cfg(schedule="constant")
    assert lr_at(50, t, 100) == 1.0
    t2 = TrainConfig(tokens=1000, seq_length=10, global_batch_size=8)
    assert total_steps(t2) == 13  # 80 tokens per step, rounded up


def test_spike_policy_skips_nan_and_spikes_then_requests_rollback():
    p = SpikePolicy(SpikePolicyConfig(zscore=3.0, window=10, warmup_steps=5, max_bad_steps=2))
    assert p.is_bad(float("nan")) and p.is_bad(float("inf"))
    for step, loss in enumerate([5.0, 4.9, 5.1, 5.0, 4.95], start=1):
        assert not p.is_bad(loss)
        p.observe(step, loss, skipped=False)
    assert p.is_bad(9.0) and not p.is_bad(5.05)
    p.observe(6, float("nan"), skipped=True)
    assert not p.rollback_due
    p.observe(7, 9.0, skipped=True)
    assert p.rollback_due
    state = p.state_dict()
    q = SpikePolicy(p.cfg)
    q.load_state_dict(state)
    assert q.state_dict() == state and q.rollback_due


def test_bad_steps_age_out_of_the_window():
    p = SpikePolicy(SpikePolicyConfig(window=3, max_bad_steps=2))
    p.observe(1, float("nan"), skipped=True)
    for step in (2, 3, 4):
        p.observe(step, 1.0, skipped=False)
    p.observe(5, float("nan"), skipped=True)
    assert not p.rollback_due


def test_retention_keeps_last_k_every_m_and_never_the_newest():
    assert steps_to_delete([100, 200, 300, 400, 500], keep_last=2, keep_every=200) == [100, 300]
    assert steps_to_delete([100], keep_last=1, keep_every=0) == []
    assert steps_to_delete([], keep_last=2, keep_every=0) == []


def test_combined_exit_code():
    assert combined_exit_code([0, 0]) == 0
    assert combined_exit_code([124, 0]) == 124
    assert combined_exit_code([124, -9]) == 1
    assert combined_exit_code([0, 3]) == 3
