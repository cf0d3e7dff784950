"""Turn published throughput figures into MFU, and predict GPU-hours from an MFU.

Papers report throughput three ways: tokens/s per GPU, "TFLOP/s per GPU" counted the Megatron
way (hardware FLOPs, including activation recomputation), or MFU. All three go through the
same FLOP count as `plan` (`model.spec.flops_per_token`), so a published run checks that count
together with the cost model.
"""

from __future__ import annotations

from llm_train.config.model import ModelConfig
from llm_train.model.spec import flops_per_token
from llm_train.plan.cost import DEFAULT_GOODPUT, Cost, estimate_cost
from llm_train.plan.timing import hardware_flops_per_token


def mfu_from_tokens_per_second(
    m: ModelConfig, seq_length: int, tokens_per_s_per_gpu: float, peak_tflops: float
) -> float:
    return tokens_per_s_per_gpu * flops_per_token(m, seq_length) / (peak_tflops * 1e12)


def mfu_from_hardware_tflops(
    m: ModelConfig, seq_length: int, tflops_per_gpu: float, recompute: str, peak_tflops: float
) -> float:
    ratio = flops_per_token(m, seq_length) / hardware_flops_per_token(m, seq_length, recompute)
    return tflops_per_gpu * ratio / peak_tflops


def predict_cost(
    m: ModelConfig,
    seq_length: int,
    tokens: float,
    gpus: int,
    gpus_per_node: int,
    peak_tflops: float,
    mfu: float,
    gpu_power_w: float | None = None,
    goodput: float = DEFAULT_GOODPUT,
    pue: float = 1.0,
    grid_g_co2_per_kwh: float = 0.0,
) -> Cost:
    seconds = tokens * flops_per_token(m, seq_length) / (gpus * peak_tflops * 1e12 * mfu)
    return estimate_cost(seconds, gpus, gpus_per_node, gpu_power_w, None, pue, grid_g_co2_per_kwh, goodput)
