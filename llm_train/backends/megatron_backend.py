"""The megatron-core backend: TP, PP (1F1B, interleaved), SP, CP, DP with megatron's DDP and
(on CUDA) the distributed optimizer, dist_checkpointing checkpoints that reshard.

Parallelism is applied in one place, `build`: layout check, process groups, model chunks,
DDP wrapping, optimizer. The trainer only sees the `TrainBackend` interface.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import torch
from megatron.core import parallel_state
from megatron.core.distributed import (
    DistributedDataParallel,
    DistributedDataParallelConfig,
    finalize_model_grads,
)

from llm_train.backends.base import MicroBatch, SaveState, TrainBackend, Update
from llm_train.backends.megatron import checkpoint
from llm_train.backends.megatron.model import build_gpt_chunks, transformer_config
from llm_train.backends.megatron.optimizer import build_optimizer, set_lr
from llm_train.backends.megatron.parallel import destroy_parallel, init_parallel
from llm_train.backends.megatron.step import run_schedule
from llm_train.config.schema import ExperimentConfig
from llm_train.launch.dist_env import DistEnv
from llm_train.parallel import Runtime, resolve_layout

log = logging.getLogger(__name__)


class MegatronBackend(TrainBackend):
    name = "megatron"

    def __init__(self, cfg: ExperimentConfig, dist: DistEnv):
        super().__init__(cfg, dist)
        runtime = Runtime.detect()
        self.use_te = bool(runtime.te)
        self.layout = resolve_layout(cfg, dist.world_size, runtime)
        self.gpt_chunks: list[torch.nn.Module] = []  # GPTModel per virtual stage (for checkpoints)
        self.chunks: list[torch.nn.Module] = []  # the same wrapped in (Float16Module and) DDP
        self.optimizer = None
        self.async_saves = checkpoint.AsyncSaves() if cfg.checkpoint.async_save else None

    def build(self) -> None:
        init_parallel(self.cfg, self.dist, self.layout)
        config = transformer_config(self.cfg, self.layout, self.use_te)
        models = build_gpt_chunks(self.cfg, config, self.use_te)
        self.gpt_chunks = [getattr(m, "module", m) for m in models]
        on_cuda = torch.cuda.is_available()
        ddp_config = DistributedDataParallelConfig(
            grad_reduce_in_fp32=True,
            # Data-parallel gradient all-reduce overlapped with the backward pass (NCCL streams);
            # gloo on CPU runs it in the caller's thread, so there is nothing to overlap.
            overlap_grad_reduce=on_cuda and self.layout.dp > 1,
            use_distributed_optimizer=on_cuda and self.cfg.parallel.distributed_optimizer,
            check_for_nan_in_grad=False,
        )
        self.chunks = [
            # Only the first chunk gets buckets: megatron-LM's choice for interleaved schedules.
            DistributedDataParallel(config=config, ddp_config=ddp_config, module=m, disable_bucketing=i > 0)
            for i, m in enumerate(models)
        ]
        for chunk in self.chunks:
            chunk.broadcast_params()  # identical replicas across DP whatever the init did
        self.optimizer = build_optimizer(self.cfg, self.chunks)
        # Hooks the schedules call: skip DP sync between micro batches, finalize grads at the end.
        config.no_sync_func = [c.no_sync for c in self.chunks]
        if len(self.chunks) == 1:
            config.no_sync_func = config.no_sync_func[0]
        config.finalize_model_grads_func = finalize_model_grads
        if config.fp16:
            config.grad_scale_func = self.optimizer.scale_loss
        log.info("megatron model: %d parameters (te=%s)", self.num_params(), self.use_te)

    @property
    def dp_rank(self) -> int:
        return parallel_state.get_data_parallel_rank()

    @property
    def dp_size(self) -> int:
        return parallel_state.get_data_parallel_world_size()

    def forward_backward(self, micro_batches: list[MicroBatch]) -> float:
        for chunk in self.chunks:
            chunk.train()
            chunk.zero_grad_buffer()
        self.optimizer.zero_grad()
        loss_sum, tokens = run_schedule(
            self.chunks, micro_batches, forward_only=False, clock=self.forward_clock
        )
        return loss_sum / max(tokens, 1)

    def optimizer_step(self, lr: float, apply: bool) -> Update:
        set_lr(self.optimizer, lr, self.cfg.train.weight_decay)
        # prepare_grads: main_grad -> master grads, fp16 unscale; True when fp16 overflowed.
        if self.optimizer.prepare_grads():
            grad_norm = math.inf
        elif self.cfg.train.grad_clip > 0:
            grad_norm = float(self.optimizer.clip_grad_norm(self.cfg.train.grad_clip))
        else:
            grad_norm = float(self.optimizer.get_grad_norm())
        applied = apply and math.isfinite(grad_norm)
        if applied:
            self.optimizer.step_with_ready_grads()
        return Update(grad_norm=grad_norm, applied=applied)

    @torch.no_grad()
    def eval_loss(self, micro_batches: list[MicroBatch]) -> tuple[float, int]:
        for chunk in self.chunks:
            chunk.eval()
        loss_sum, tokens = run_schedule(self.chunks, micro_batches, forward_only=True)
        return loss_sum, tokens

    def save(self, directory: Path) -> SaveState:
        info = {
            "layout": dataclasses.asdict(self.layout),
            "precision": self.cfg.train.precision,
            "te": self.use_te,
        }
        request = checkpoint.save(
            Path(directory),
            self.gpt_chunks,
            self.optimizer,
            self.cfg.model,
            info,
            asynchronous=self.async_saves is not None,
        )
        if request is None:
            return SaveState.COMPLETE
        self.async_saves.schedule(request)
        return SaveState.IN_BACKGROUND

    def finalize_saves(self, blocking: bool) -> bool:
        return self.async_saves.finalize(blocking) if self.async_saves else True

    def load(self, directory: Path, model_only: bool | None = None) -> None:
        """Load a checkpoint of any layout; model-only ones (HF warm starts) keep the fresh optimizer."""
        directory = Path(directory)
        if model_only is None:
            model_only = checkpoint.is_model_only(directory)
        if model_only:
            checkpoint.load(directory, self.gpt_chunks, None)
            # Mixed-precision optimizers keep fp32 master weights: refresh them from the loaded model.
            self.optimizer.reload_model_params()
        else:
            checkpoint.load(directory, self.gpt_chunks, self.optimizer)

    def num_params(self) -> int:
        """Parameters summed over TP and PP ranks (each weight once; tied embeddings once)."""
        tp_rank = parallel_state.get_tensor_model_parallel_rank()
        local = 0
        for chunk in self.gpt_chunks:
            for param in chunk.parameters():
                if getattr(param, "shared", False):
                    continue  # the last stage's copy of a tied embedding
                # TP-split weights hold a slice on every TP rank; the rest is replicated over TP.
                if getattr(param, "tensor_model_parallel", False) or tp_rank == 0:
                    local += param.numel()
        total = torch.tensor([local], dtype=torch.int64)
        if torch.cuda.is_available():
            total = total.cuda()
        torch.distributed.all_reduce(total, group=parallel_state.get_model_parallel_group())
        return int(total.item())

    def close(self) -> None:
        if self.async_saves is not None:
            # The checkpoint manager finalizes every save on the way out of a clean run, so a save
            # still pending here means an error path: no collectives, the save is never published.
            self.async_saves.abandon()
        destroy_parallel()
