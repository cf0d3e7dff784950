"""Memory estimates against measurements with the real model code and DeepSpeed's estimator."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from llm_train.config.compose import read_yaml
from llm_train.config.model import ModelConfig
from llm_train.model.spec import param_counts
from llm_train.parallel import ParallelLayout
from llm_train.plan.memory import estimate_memory, largest_layer_params
from llm_train.plan.workload import GB, Devices, Workload

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "model"
CPU = Devices(
    count=1, per_node=1, memory_gb=24, peak_tflops=None, intra_bw_gbps=None, inter_bw_gbps=None, is_gpu=False
)
A100 = dict(memory_gb=80, peak_tflops=312, intra_bw_gbps=300, inter_bw_gbps=25)


def preset(name: str) -> ModelConfig:
    return ModelConfig(**read_yaml(CONFIGS / f"{name}.yaml"))


def measure_training_peak(m: ModelConfig, micro_batch: int, seq: int) -> dict[str, float]:
    """Peak tensor memory by category over a real fp32 training step of the DeepSpeed backend's model.

    The model and optimizer groups come from `llm_train.backends.hf_llama` (what the DeepSpeed
    backend trains); torch's MemTracker attributes every live tensor storage to parameters,
    gradients, optimizer states, activations or temporaries. Gradients are kept between steps
    (set_to_none=False), as the contiguous gradient buffers of DeepSpeed and Megatron are.
    """
    from torch.distributed._tools.mem_tracker import MemTracker

    from llm_train.backends.hf_llama import build_llama, optimizer_param_groups

    torch.manual_seed(0)
    model = build_llama(m, seed=0)
    opt = torch.optim.AdamW(
        optimizer_param_groups(model, 0.1, tied=model.config.tie_word_embeddings), lr=1e-4
    )
    tokens = torch.randint(0, m.vocab_size, (micro_batch, seq))

    def step() -> None:
        model(input_ids=tokens, labels=tokens).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)

    tracker = MemTracker()
    tracker.track_external(model, opt)
    with tracker:
        step()  # the first step creates the Adam states
        tracker.reset_mod_stats()
        step()
    (peak,) = tracker.get_tracker_snapshot("peak").values()
    return {str(k).rsplit(".", 1)[-1]: v for k, v in peak.items()}


# MemTracker intercepts every op: ~10 s for tiny and ~60 s for 125m on 2 idle cores.
@pytest.mark.slow
@pytest.mark.parametrize(("name", "micro_batch", "seq"), [("tiny", 4, 256), ("125m", 2, 512)])
def test_estimate_matches_measured_peak_on_cpu(name, micro_batch, seq):
    torch.set_num_threads(2)
    m = preset(name)
    measured = measure_training_peak(m, micro_batch, seq)
    w = Workload(m, seq, micro_batch, micro_batch * seq, precision="fp32", backend="deepspeed")
    est = estimate_memory(w, ParallelLayout(dp=1, zero_stage=0, micro_batch=micro_batch), CPU)
    states = measured["PARAM"] + measured["GRAD"] + measured["OPT"]
    assert est.model_states == pytest.approx(states, rel=0.02)
    assert est.activations + est.logits == pytest.approx(measured["ACT"], rel=0.10)
    assert est.total == pytest.approx(measured["Total"], rel=0.10)


def test_largest_layer_matches_deepspeed_on_the_real_model():
    from deepspeed.runtime.zero.stage3 import model_to_params

    from llm_train.backends.hf_llama import build_llama

    m = preset("tiny")
    total, largest = model_to_params(build_llama(m, seed=0))
    assert total == param_counts(m).total
    assert largest == largest_layer_params(m)


def _zero3_states(
    m: ModelConfig, gpus: int, offload_opt: str = "none", offload_params: str = "none"
) -> float:
    w = Workload(m, 4096, gpus, gpus * 4096, precision="bf16", backend="deepspeed")
    layout = ParallelLayout(
        dp=gpus, zero_stage=3, offload_optimizer=offload_opt, offload_params=offload_params
    )
    est = estimate_memory(w, layout, Devices(count=gpus, per_node=8, **A100))
    # Model states at their peak: the optimizer step's fp32 gradient buffer, if larger than what
    # the gathered layers held during forward/backward.
    return est.model_states + max(0.0, est.transient_step)


@pytest.mark.parametrize("name", ["1b", "7b", "13b", "70b"])
@pytest.mark.parametrize("gpus", [8, 16, 64, 512])
def test_zero3_states_within_10_percent_of_deepspeed_estimator(name, gpus):
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs

    m = preset(name)
    total, largest = param_counts(m).total, largest_layer_params(m)
    _, gpu_mem, _ = estimate_zero3_model_states_mem_needs(
        total, largest, num_gpus_per_node=8, num_nodes=gpus // 8, cpu_offload=False, cpu_offload_params=False
    )
    assert _zero3_states(m, gpus) == pytest.approx(gpu_mem, rel=0.10)


@pytest.mark.parametrize(("offload_params", "cpu_offload_params"), [("none", False), ("cpu", True)])
def test_zero3_offload_within_10_percent_of_deepspeed_estimator(offload_params, cpu_offload_params):
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs

    m = preset("13b")
    total, largest = param_counts(m).total, largest_layer_params(m)
    _, gpu_mem, _ = estimate_zero3_model_states_mem_needs(
        total,
        largest,
        num_gpus_per_node=8,
        num_nodes=2,
        cpu_offload=True,
        cpu_offload_params=cpu_offload_params,
    )
    assert _zero3_states(m, 16, "cpu", offload_params) == pytest.approx(gpu_mem, rel=0.10)


def test_memory_falls_with_sharding_and_recompute():
    m = preset("7b")
    w = Workload(m, 4096, 512, 10**12, "bf16", "megatron")
    dev = Devices(count=64, per_node=8, **A100)
    base = estimate_memory(w, ParallelLayout(tp=1, pp=1, dp=64, distributed_optimizer=False), dev)
    distopt = estimate_memory(w, ParallelLayout(tp=1, pp=1, dp=64, distributed_optimizer=True), dev)
    tp = estimate_memory(w, ParallelLayout(tp=8, pp=1, dp=8, sp=True), dev)
    full = estimate_memory(w, ParallelLayout(tp=1, pp=1, dp=64, recompute="full"), dev)
    assert distopt.optimizer == pytest.approx(base.optimizer / 64)
    assert tp.weights == pytest.approx(base.weights / 8, rel=0.01)
    assert tp.activations < base.activations / 6
    assert full.activations < base.activations / 10
    # Megatron's distributed optimizer: 6 + 12/d bytes per parameter (bf16 weights, fp32 grads).
    assert distopt.model_states / param_counts(m).total == pytest.approx(6 + 12 / 64, rel=1e-6)
    assert base.total > 40 * GB
