"""megatron backend on CPU (gloo + the test-only CUDA shim): parallel layouts give the same numbers.

TP=2 (with and without sequence parallel) and DP=2 must reproduce TP=1 step by step: loss, grad
norm and updated weights (the second step's loss depends on the first update). CPU initialization
builds full weights and slices them, so these layouts start from identical weights.
"""

from __future__ import annotations

import pytest

from llm_train.config.model import ModelConfig
from llm_train.model.spec import param_counts
from tests.megatron_workers import TINY_MODEL, spawn

pytestmark = [pytest.mark.slow, pytest.mark.distributed]


@pytest.fixture(scope="module")
def tp1(tmp_path_factory):
    return spawn("job_train", 1, tmp_path_factory.mktemp("tp1"), parallel={}, steps=2)[0]


def assert_same_run(run: dict, ref: dict, tol: float = 1e-5) -> None:
    assert run["eval_loss"] == pytest.approx(ref["eval_loss"], rel=tol)
    assert run["eval_tokens"] == ref["eval_tokens"]
    for got, want in zip(run["steps"], ref["steps"], strict=True):
        assert got["loss"] == pytest.approx(want["loss"], rel=tol)
        assert got["grad_norm"] == pytest.approx(want["grad_norm"], rel=tol)
        assert got["lr"] == want["lr"]
        assert not got["skipped"]


def test_tp1_param_count_matches_spec(tp1):
    assert tp1["num_params"] == param_counts(ModelConfig(**TINY_MODEL)).total
    # The run learns something: loss after an update differs from before it.
    assert tp1["steps"][1]["loss"] != tp1["steps"][0]["loss"]


@pytest.mark.parametrize(
    "parallel",
    [{"tp": 2}, {"tp": 2, "sp": True}, {"dp": 2}],
    ids=["tp2", "tp2-sp", "dp2"],
)
def test_layout_matches_tp1(tp1, parallel, tmp_path):
    runs = spawn("job_train", 2, tmp_path, parallel=parallel, steps=2)
    for run in runs:  # every rank reports the global numbers
        assert_same_run(run, tp1)
        assert run["num_params"] == tp1["num_params"]
    assert runs[0]["dp"][1] == (2 if "dp" in parallel else 1)


def test_sdpa_core_attention_equals_megatrons(tmp_path):
    """The local layers' fused SDPA attention computes what megatron's DotProductAttention does."""
    (out,) = spawn("job_attention_parity", 1, tmp_path)
    assert out["sdpa"]["y"] == pytest.approx(out["megatron"]["y"], abs=1e-5)
    for got, want in zip(out["sdpa"]["grads"], out["megatron"]["grads"], strict=True):
        assert got == pytest.approx(want, abs=1e-4)
