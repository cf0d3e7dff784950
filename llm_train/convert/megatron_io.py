"""Megatron dist checkpoints as full tensors, in one process, whatever layout wrote them.

A torch_dist checkpoint stores global tensors (cut into the saving ranks' shards), so reading the
full model needs no knowledge of the TP/PP/DP layout; writing a model-only checkpoint from full
tensors gives one that every layout can load (the warm start from HF weights).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from megatron.core import dist_checkpointing

from llm_train.backends.megatron.checkpoint import BACKEND_FILE, MODEL_CONFIG_FILE
from llm_train.config.model import ModelConfig
from llm_train.convert.llama import megatron_keys
from llm_train.utils.atomic import atomic_write_json

# What megatron writes as metadata.json for its torch_dist format (dist_checkpointing.save).
TORCH_DIST_METADATA = {
    "sharded_backend": "torch_dist",
    "sharded_backend_version": 1,
    "common_backend": "torch",
    "common_backend_version": 1,
}


@contextlib.contextmanager
def single_process_group() -> Iterator[None]:
    """dist_checkpointing needs a process group; a one-rank gloo group on an in-memory store."""
    if dist.is_initialized():
        yield
        return
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def read_model_tensors(directory: Path, m: ModelConfig) -> dict[str, torch.Tensor]:
    """The full weights (no optimizer state) of a megatron checkpoint written at any layout."""
    with single_process_group():
        metadata = dist_checkpointing.load_tensors_metadata(str(directory))
        wanted = {key: metadata[key] for key in megatron_keys(m)}
        loaded = dist_checkpointing.load(wanted, str(directory), validate_access_integrity=False)
    # The result also holds the common (non-tensor) state, e.g. the scheduler: keep the weights.
    return {key: loaded[key].float() for key in wanted}


def write_model_checkpoint(tensors: dict[str, torch.Tensor], directory: Path, m: ModelConfig) -> None:
    """A model-only megatron checkpoint (the backend loads it into fresh optimizer state).

    megatron's torch_dist format is a torch.distributed.checkpoint directory holding each sharded
    tensor under its key with its global shape, plus metadata.json and common.pt. Written here
    directly in one process: megatron's own writer calls CUDA unconditionally, and conversion must
    run on CPU-only nodes. The layer axis is the leading dim of each layer tensor, as megatron saves it.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dcp.save({key: t.contiguous() for key, t in tensors.items()}, checkpoint_id=str(directory), no_dist=True)
    torch.save({}, directory / "common.pt")
    atomic_write_json(directory / "metadata.json", TORCH_DIST_METADATA)
    atomic_write_json(directory / MODEL_CONFIG_FILE, m.model_dump(mode="json"))
    atomic_write_json(directory / BACKEND_FILE, {"backend": "megatron", "model_only": True})
