"""Optimizer for the megatron backend, selected by device; the LR comes from the trainer's schedule.

CUDA: megatron's `get_megatron_optimizer` (AdamW, fp32 master weights for bf16/fp16, the distributed
optimizer when `parallel.distributed_optimizer`, i.e. ZeRO-1-like sharding of the optimizer state
over data-parallel ranks).

CPU: megatron's optimizer allocates CUDA tensors unconditionally and cannot run there, so the backend
uses a plain `torch.optim.AdamW` inside megatron's FP32Optimizer wrapper. The wrapper copies each
parameter's `main_grad` (the DDP grad buffer, already reduced by `finish_grad_sync`) into `.grad`,
and gives the same checkpoint format as megatron's non-distributed optimizer (optimizer state as
sharded tensors, so it reshards with the model). Only the grad-norm and clipping helpers, which are
hard-wired to CUDA in megatron, are reimplemented here with the same semantics. The CPU path is
fp32 only and has no distributed optimizer (each DP rank keeps the full state).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from megatron.core.optimizer import OptimizerConfig, get_megatron_optimizer
from megatron.core.optimizer.optimizer import FP32Optimizer, MegatronOptimizer
from megatron.core.optimizer.optimizer_config import ParamKey, ParamWithNamePredicate
from megatron.core.optimizer_param_scheduler import ParamGroupOverride

from llm_train.backends.weight_decay import decays
from llm_train.config.schema import ExperimentConfig
from llm_train.model.dtypes import PRECISIONS


def optimizer_config(cfg: ExperimentConfig, on_cuda: bool) -> OptimizerConfig:
    t = cfg.train
    return OptimizerConfig(
        optimizer="adam",  # decoupled weight decay: AdamW
        lr=t.lr,
        min_lr=t.min_lr,
        weight_decay=t.weight_decay,
        adam_beta1=t.adam_beta1,
        adam_beta2=t.adam_beta2,
        adam_eps=t.adam_eps,
        clip_grad=t.grad_clip,
        bf16=t.precision == "bf16",
        fp16=t.precision == "fp16",
        params_dtype=PRECISIONS[t.precision],
        use_distributed_optimizer=on_cuda and cfg.parallel.distributed_optimizer,
    )


def build_optimizer(cfg: ExperimentConfig, chunks: list[torch.nn.Module]) -> MegatronOptimizer:
    on_cuda = torch.cuda.is_available()
    config = optimizer_config(cfg, on_cuda)
    if on_cuda:
        tied = cfg.model.tie_embeddings
        no_decay = ParamWithNamePredicate(
            name="llm_train_no_decay", fn=lambda param, name: not decays(name, param, tied)
        )
        overrides = {ParamKey(with_name_predicate=no_decay): ParamGroupOverride(wd_mult=0.0)}
        return get_megatron_optimizer(config, chunks, config_overrides=overrides)
    return CpuFP32Optimizer(chunks, config, cfg.model.tie_embeddings)


def set_lr(optimizer: MegatronOptimizer, lr: float, weight_decay: float) -> None:
    """The trainer's LR (and the constant weight decay) on every group, scaled the way megatron's own
    `OptimizerParamScheduler` scales them: by each group's `lr_mult` and `wd_mult` (norms and biases
    carry wd_mult 0)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)
        group["weight_decay"] = weight_decay * group.get("wd_mult", 1.0)


def _param_groups(chunks: list[torch.nn.Module], config: OptimizerConfig, tied: bool) -> list[dict]:
    """Two groups by the one weight-decay rule (`weight_decay.decays`), as megatron would build them.

    The group keys are the ones megatron's optimizers read (wd_mult, lr_mult, ...), so `set_lr` and
    the checkpoint code treat these groups like megatron's own.
    """
    decay, no_decay = [], []
    for chunk in chunks:
        for name, param in chunk.named_parameters():
            if param.requires_grad:
                (decay if decays(name, param, tied) else no_decay).append(param)
    common = {"lr_mult": 1.0, "is_expert_parallel": False, "is_decoupled_lr": False}
    common |= {"max_lr": config.lr, "min_lr": config.min_lr, "default_config": True}
    return [{"params": decay, "wd_mult": 1.0, **common}, {"params": no_decay, "wd_mult": 0.0, **common}]


def _init_adam_state(opt: torch.optim.Optimizer, config: OptimizerConfig | None = None) -> None:
    """Empty Adam moments (and step) so a checkpoint can be loaded into a fresh optimizer."""
    for group in opt.param_groups:
        for p in group["params"]:
            if not opt.state[p]:
                opt.state[p]["exp_avg"] = torch.zeros_like(p.data)
                opt.state[p]["exp_avg_sq"] = torch.zeros_like(p.data)


class CpuFP32Optimizer(FP32Optimizer):
    """megatron's FP32Optimizer around torch AdamW, with CPU grad-norm and clipping."""

    def __init__(self, chunks: list[torch.nn.Module], config: OptimizerConfig, tied: bool):
        adamw = torch.optim.AdamW(
            _param_groups(chunks, config, tied),
            lr=config.lr,
            weight_decay=config.weight_decay,
            betas=(config.adam_beta1, config.adam_beta2),
            eps=config.adam_eps,
        )
        # FP32Optimizer.__init__ only adds a CUDA loss-scale tensor; set its fields directly.
        MegatronOptimizer.__init__(self, adamw, config, _init_adam_state)
        self._scale = torch.ones(1)
        self.is_stub_optimizer = False

    @torch.no_grad()
    def get_grad_norm(self) -> float:
        # Shared and TP-duplicated parameters are excluded by the base class, so the sum of
        # squares over the model-parallel group counts every weight exactly once.
        grads = self.get_main_grads_for_grad_norm()
        squares = torch.zeros(1, dtype=torch.float64)
        for grad in grads:
            squares += grad.double().pow(2).sum()
        dist.all_reduce(squares, group=self.get_grad_stats_parallel_group())
        return float(squares.sqrt())

    @torch.no_grad()
    def clip_grad_norm(self, clip_grad: float) -> float:
        grad_norm = self.get_grad_norm()
        coef = clip_grad / (grad_norm + 1.0e-6)
        if coef < 1.0:
            for param in self.get_parameters():
                if param.grad is not None:
                    param.grad.mul_(coef)
        return grad_norm
