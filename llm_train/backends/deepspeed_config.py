"""Our config -> a DeepSpeed config dict. Every setting we expose is mapped here, in one place."""

from __future__ import annotations

from typing import Any

from llm_train.config.schema import ExperimentConfig
from llm_train.parallel import ParallelLayout


def _offload(device: str, nvme_path: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"device": device}
    if device == "nvme":
        out["nvme_path"] = nvme_path
    return out


def deepspeed_config(cfg: ExperimentConfig, layout: ParallelLayout) -> dict[str, Any]:
    """For a layout `llm_train.parallel.resolve_layout` accepted (so the batch arithmetic holds)."""
    t, p = cfg.train, cfg.parallel
    zero: dict[str, Any] = {"stage": p.zero_stage}
    if p.offload_optimizer != "none":
        zero["offload_optimizer"] = _offload(p.offload_optimizer, p.nvme_path)
    if p.offload_params != "none":
        zero["offload_param"] = _offload(p.offload_params, p.nvme_path)
    if p.zero_stage == 3:
        # Lets every checkpoint also carry the gathered full weights (model.safetensors).
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_batch_size": t.global_batch_size,
        "train_micro_batch_size_per_gpu": t.micro_batch_size,
        "gradient_accumulation_steps": layout.micro_batches_per_step(t.global_batch_size),
        "gradient_clipping": t.grad_clip,
        "zero_optimization": zero,
        "bf16": {"enabled": t.precision == "bf16"},
        "fp16": {"enabled": t.precision == "fp16", "initial_scale_power": 16},
        # Our optimizer is torch's AdamW (no C++ op to compile); these let ZeRO and offload take it.
        "zero_allow_untested_optimizer": True,
        "zero_force_ds_cpu_optimizer": False,
        # Progress is logged by our trainer; DeepSpeed's own step prints would repeat it.
        "steps_per_print": 2**31 - 1,
        "wall_clock_breakdown": False,
    }
