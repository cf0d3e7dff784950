"""Layout checks of the megatron backend: every bad layout fails up front, naming the key to change."""

from __future__ import annotations

import pytest

from llm_train.backends.megatron.layout import resolve_layout
from llm_train.errors import ConfigError
from tests.megatron_workers import make_config


def test_layout_derives_dp_from_world_size():
    layout = resolve_layout(make_config({"tp": 2, "pp": 2}), world_size=8, have_te=False)
    assert (layout.tp, layout.pp, layout.cp, layout.dp) == (2, 2, 1, 2)
    assert layout.world_size == 8
    assert layout.micro_batches_per_step(make_config({"tp": 2, "pp": 2})) == 2  # 8 / (2 x 2)


@pytest.mark.parametrize(
    ("parallel", "world", "key", "fragment"),
    [
        ({"tp": 2, "pp": 2}, 6, "parallel.tp", "dividing the world size (6)"),
        ({"tp": 2, "dp": 4}, 4, "parallel.dp", "world size / (tp x pp x cp) = 4 / 2 = 2"),
        ({"tp": 4}, 4, "parallel.tp", "model.num_kv_heads (2)"),
        ({"pp": 3}, 3, "parallel.pp", "dividing model.num_layers (4)"),
        ({"pp": 2, "vpp": 4}, 2, "parallel.pp", "pp x vpp (8)"),
        ({"sp": True}, 1, "parallel.sp", "tp > 1"),
        ({"cp": 2}, 2, "parallel.cp", "without Transformer Engine"),
    ],
)
def test_bad_layouts_name_the_key(parallel, world, key, fragment):
    with pytest.raises(ConfigError) as err:
        resolve_layout(make_config(parallel), world_size=world, have_te=False)
    keys = [p.key for p in err.value.problems]
    assert key in keys, err.value
    assert fragment in str(err.value)


def test_padded_vocab_must_split_over_tp():
    cfg = make_config({"tp": 2}, model={"vocab_size": 251, "make_vocab_size_divisible_by": 1})
    with pytest.raises(ConfigError, match="model.make_vocab_size_divisible_by"):
        resolve_layout(cfg, world_size=2, have_te=False)


def test_interleaved_schedule_needs_micro_batches_divisible_by_pp():
    # 6 samples / micro batch 2 = 3 micro batches per step: the interleaved schedule needs a multiple of pp.
    cfg = make_config({"pp": 2, "vpp": 2}, train={"global_batch_size": 6, "micro_batch_size": 2})
    with pytest.raises(ConfigError, match="divisible by parallel.pp"):
        resolve_layout(cfg, world_size=2, have_te=False)


def test_all_problems_reported_at_once():
    with pytest.raises(ConfigError) as err:
        resolve_layout(make_config({"tp": 3, "sp": False, "pp": 3}), world_size=9, have_te=False)
    assert len(err.value.problems) >= 3
