"""Process groups and RNG seeds for megatron-core, from the project's DistEnv."""

from __future__ import annotations

import datetime
import logging

import torch
import torch.distributed as dist
from megatron.core import parallel_state, tensor_parallel

from llm_train.config.schema import ExperimentConfig
from llm_train.launch.dist_env import DistEnv
from llm_train.parallel import ParallelLayout

log = logging.getLogger(__name__)


def init_parallel(cfg: ExperimentConfig, env: DistEnv, layout: ParallelLayout) -> None:
    """Start torch.distributed (if the trainer has not) and megatron's TP/PP/CP/DP groups."""
    on_cuda = torch.cuda.is_available()
    if on_cuda:
        torch.cuda.set_device(env.local_rank)
    if not dist.is_initialized():
        backend = cfg.parallel.dist_backend
        if backend == "auto":
            backend = "nccl" if on_cuda else "gloo"
        dist.init_process_group(
            backend=backend,
            init_method=f"tcp://{env.master_addr}:{env.master_port}",
            rank=env.rank,
            world_size=env.world_size,
            timeout=datetime.timedelta(minutes=30),
        )
    if parallel_state.model_parallel_is_initialized():
        parallel_state.destroy_model_parallel()
    parallel_state.initialize_model_parallel(
        tensor_model_parallel_size=layout.tp,
        pipeline_model_parallel_size=layout.pp,
        virtual_pipeline_model_parallel_size=layout.vpp,
        context_parallel_size=layout.cp,
    )
    # Megatron-LM's convention: pipeline stages get different seeds so their layers differ.
    seed(cfg.train.seed + 100 * parallel_state.get_pipeline_model_parallel_rank())
    log.info(
        "megatron groups: tp=%d pp=%d vpp=%s cp=%d dp=%d sp=%s (rank %d/%d)",
        layout.tp,
        layout.pp,
        layout.vpp,
        layout.cp,
        layout.dp,
        layout.sp,
        env.rank,
        env.world_size,
    )


def seed(base: int) -> None:
    """Seed torch and megatron's RNG tracker (which derives per-TP-rank seeds from `base`).

    Attention enters the model-parallel RNG tracker even without dropout, so it must exist.
    """
    torch.manual_seed(base)
    tensor_parallel.model_parallel_cuda_manual_seed(base)


def destroy_parallel() -> None:
    if parallel_state.model_parallel_is_initialized():
        parallel_state.destroy_model_parallel()
