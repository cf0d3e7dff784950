"""Throughput, MFU and memory per step.

MFU = flops_per_token(model, seq) * tokens/s per device / peak FLOP/s per device, with
flops_per_token from `llm_train.model.spec` (6N + attention, PaLM appendix B) and the peak from
train.peak_tflops or the cluster profile (omitted when neither is set, e.g. on CPU).
"""

from __future__ import annotations

import resource

import torch

from llm_train.backends.base import StepResult
from llm_train.model.spec import flops_per_token
from llm_train.trainer.callbacks import Callback


def peak_memory_gb() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


class ThroughputCallback(Callback):
    name = "throughput"

    def pre_train(self, trainer) -> None:
        cfg = trainer.cfg
        self.devices = trainer.dist.world_size
        self.flops_per_token = flops_per_token(cfg.model, cfg.train.seq_length)
        peak = cfg.train.peak_tflops or cfg.cluster.hardware.peak_bf16_tflops
        self.peak_flops = peak * 1e12 if peak else None

    def post_step(self, trainer, step: int, result: StepResult, metrics: dict[str, float]) -> None:
        seconds = metrics.get("step_time_s")
        if not seconds:
            return
        per_device = result.tokens / seconds / self.devices
        metrics["tokens_per_s"] = result.tokens / seconds
        metrics["tokens_per_s_per_device"] = per_device
        metrics["tflops_per_device"] = per_device * self.flops_per_token / 1e12
        if self.peak_flops:
            metrics["mfu"] = per_device * self.flops_per_token / self.peak_flops
        metrics["mem_peak_gb"] = peak_memory_gb()
