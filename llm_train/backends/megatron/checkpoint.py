"""Training state <-> megatron dist_checkpointing (torch_dist format, sharded by tensor, not by rank).

Every weight and optimizer moment is stored as a global tensor cut into the shards the saving ranks
held; a load asks for the shards the loading ranks hold. So a checkpoint loads into another
TP / PP / VPP / DP layout ("resharding"):
- model weights: any layout, any precision;
- optimizer state: reshards across TP/PP/DP with the CPU (non-distributed) optimizer and with the
  distributed optimizer saved as `fully_sharded_model_space` (what this module writes);
- what cannot be resharded: the optimizer state between the distributed and the non-distributed
  optimizer (they store different keys; load the model only, `model_only=True`, and start a fresh
  optimizer), and any change of the model spec itself (shapes must match).

Asynchronous saves (`checkpoint.async_save`) use megatron-core's own machinery, as Megatron-LM's
training loop does: `dist_checkpointing.save(..., async_sharded_save=True)` plans the save, writes
`common.pt` and returns an `AsyncRequest`; `AsyncSaves.schedule` hands it to an `AsyncCallsQueue`,
which copies the tensors to host memory (D2H, on CUDA) and forks a writer process, so training goes
on while the shards are written. `AsyncSaves.finalize` (collective) checks whether every rank's writer
has finished and then runs megatron's finalize steps (global `.metadata`, `metadata.json`). Until
then the directory is incomplete; the caller (the checkpoint manager) publishes it only after that.
The forked writer (megatron's non-persistent caller) sees the tensors as they were at the fork, so
CPU tensors that training then updates in place are still saved consistently.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
import torch.distributed as dist
from megatron.core import dist_checkpointing
from megatron.core.dist_checkpointing.strategies.async_utils import AsyncCallsQueue, AsyncRequest
from megatron.core.optimizer import MegatronOptimizer

from llm_train.config.model import ModelConfig
from llm_train.utils.atomic import atomic_write_json

log = logging.getLogger(__name__)

# Written next to megatron's own metadata.json: the model spec (also what the DeepSpeed backend's
# checkpoints carry) so `llm-train export` needs nothing but the checkpoint directory.
MODEL_CONFIG_FILE = "model_config.json"
BACKEND_FILE = "llm_train_backend.json"
# DistributedOptimizer.sharded_state_dict: the format that reshards over TP, PP and DP.
OPTIMIZER_METADATA = {"distrib_optim_sharding_type": "fully_sharded_model_space"}


def model_state(gpt_chunks: list[torch.nn.Module]) -> dict:
    if len(gpt_chunks) == 1:
        return {"model": gpt_chunks[0].sharded_state_dict()}
    return {f"model{i}": chunk.sharded_state_dict() for i, chunk in enumerate(gpt_chunks)}


def _full_state(gpt_chunks, optimizer: MegatronOptimizer, loading: bool):
    # No LR scheduler state: the LR is a pure function of the trainer's step (`lr_schedule`).
    state = model_state(gpt_chunks)
    # The optimizer maps its moments onto the model's sharded tensors (same keys + a prefix).
    state["optimizer"] = optimizer.sharded_state_dict(
        dict(state), is_loading=loading, metadata=OPTIMIZER_METADATA
    )
    return state


def save(
    directory: Path,
    gpt_chunks: list[torch.nn.Module],
    optimizer: MegatronOptimizer,
    model_cfg: ModelConfig,
    info: dict,
    asynchronous: bool = False,
) -> AsyncRequest | None:
    """Collective. With `asynchronous`, returns the request that writes the shards (to be scheduled
    with `AsyncSaves`); the directory is incomplete until that request is finalized."""
    directory = Path(directory)
    if dist.get_rank() == 0:
        directory.mkdir(parents=True, exist_ok=True)
    dist.barrier()
    state = _full_state(gpt_chunks, optimizer, loading=False)
    request = dist_checkpointing.save(state, str(directory), async_sharded_save=asynchronous)
    if dist.get_rank() == 0:
        atomic_write_json(directory / MODEL_CONFIG_FILE, model_cfg.model_dump(mode="json"))
        atomic_write_json(directory / BACKEND_FILE, {"backend": "megatron", **info})
    dist.barrier()
    return request


class AsyncSaves:
    """This rank's background checkpoint writes: megatron's `AsyncCallsQueue`, one call per save.

    `schedule` and `finalize` are collective (every rank calls them in the same order).
    """

    def __init__(self):
        # The non-persistent caller forks one writer per save (Megatron-LM's default for this
        # megatron-core). The persistent one sends CPU tensors to a spawned worker through shared
        # memory, i.e. without a copy: training would update them while they are being written.
        self._queue = AsyncCallsQueue(persistent=False)

    @property
    def pending(self) -> int:
        return self._queue.get_num_unfinalized_calls()

    def schedule(self, request: AsyncRequest) -> None:
        self._queue.schedule_async_request(request)

    def finalize(self, blocking: bool) -> bool:
        """Finalize the saves every rank has finished writing (all, waiting, when `blocking`).

        True when none is left pending. Raises megatron's CheckpointingException on every rank
        if any rank failed to write its shards.
        """
        if self.pending:
            self._queue.maybe_finalize_async_calls(blocking=blocking)
        return self.pending == 0

    def abandon(self) -> None:
        """Drop pending saves without collectives (error path: other ranks may be gone).

        Their directories stay incomplete and are never published; a writer still running is
        joined when the process exits.
        """
        if self.pending:
            log.warning("abandoning %d unfinished asynchronous checkpoint save(s)", self.pending)
        self._queue.close(abort=True)
        # Forget them: megatron-core >= 0.17 finalizes (collectively) what is left when the queue
        # is garbage collected.
        self._queue.async_calls.clear()


def load(
    directory: Path,
    gpt_chunks: list[torch.nn.Module],
    optimizer: MegatronOptimizer | None,
) -> None:
    """Load into this rank's shards; with `optimizer=None` only the model weights are read."""
    if optimizer is None:
        # Weights only: layers' `_extra_state` objects (empty for the local layers, FP8 metadata
        # for TE) are not part of converted checkpoints.
        state = _without_extra_state(model_state(gpt_chunks))
    else:
        state = _full_state(gpt_chunks, optimizer, loading=True)
    loaded = dist_checkpointing.load(state, str(directory))
    names = ["model"] if len(gpt_chunks) == 1 else [f"model{i}" for i in range(len(gpt_chunks))]
    for name, chunk in zip(names, gpt_chunks, strict=True):
        result = chunk.load_state_dict(loaded[name], strict=optimizer is not None)
        missing = [k for k in getattr(result, "missing_keys", []) if not k.endswith("_extra_state")]
        if missing:
            raise RuntimeError(f"checkpoint {directory} lacks weights: {missing}")
    if optimizer is not None:
        optimizer.load_state_dict(loaded["optimizer"])


def _without_extra_state(state: dict) -> dict:
    return {
        key: _without_extra_state(value) if isinstance(value, dict) else value
        for key, value in state.items()
        if not key.endswith("_extra_state")
    }


def is_model_only(directory: Path) -> bool:
    """True for checkpoints holding weights only (written by `llm-train export --to megatron`)."""
    f = Path(directory) / BACKEND_FILE
    try:
        return bool(json.loads(f.read_text()).get("model_only", False))
    except (OSError, ValueError):
        return False
