"""The seam between the trainer loop and a parallelism library (OLMo-core's `TrainModule`, in spirit).

The trainer never touches parallelism, and the backend never decides policy. Each optimizer step is
two calls, so the decision in between is the trainer's on every backend:

    loss = backend.forward_backward(micro_batches)     # gradients accumulated, global mean loss
    apply = <the trainer's NaN / spike policy on the loss>
    update = backend.optimizer_step(lr, apply)         # LR from the trainer's one schedule

DeepSpeed and megatron-core implement this interface; `tests/test_backend_contract.py` runs both on
the same tiny model and checks the LR, a skipped spike and resume behave the same.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from llm_train.backends.forward_clock import ForwardClock
from llm_train.config.schema import ExperimentConfig
from llm_train.launch.dist_env import DistEnv
from llm_train.parallel import ParallelLayout

# A micro batch as produced by megatron-core's GPTDataset collation:
# tokens [b, s] int64, labels [b, s] int64, loss_mask [b, s] float, position_ids [b, s] int64.
MicroBatch = dict[str, Any]


@dataclass
class Update:
    grad_norm: float  # global, before clipping (inf/nan when the gradients are not finite)
    applied: bool  # False: the weights, moments and optimizer step count are unchanged


@dataclass
class StepResult:
    """One optimizer step as the trainer reports it."""

    loss: float  # mean token loss over the global batch (identical on every rank)
    grad_norm: float
    lr: float
    tokens: int  # tokens in the global batch
    skipped: bool = False  # update not applied (non-finite loss or gradients, or the spike policy)


class SaveState(Enum):
    COMPLETE = "complete"  # every file is written when `save` returns
    IN_BACKGROUND = "in_background"  # incomplete until `finalize_saves` reports it done


class TrainBackend(ABC):
    name: str = "base"

    def __init__(self, cfg: ExperimentConfig, dist: DistEnv):
        self.cfg = cfg
        self.dist = dist
        # Forward time of this rank's micro batches (backends wrap each forward in it): stragglers.
        self.forward_clock = ForwardClock()

    # The validated parallel layout of this job (set in the constructor, before any process group).
    layout: ParallelLayout

    @abstractmethod
    def build(self) -> None:
        """Create process groups, model and optimizer."""

    @property
    @abstractmethod
    def dp_rank(self) -> int:
        """This rank's data-parallel index (which slice of the global batch it reads)."""

    @property
    @abstractmethod
    def dp_size(self) -> int: ...

    @abstractmethod
    def forward_backward(self, micro_batches: list[MicroBatch]) -> float:
        """Forward and backward over this rank's micro batches of one step; gradients are accumulated
        (and reduced over data-parallel ranks) but nothing is updated. Returns the global mean token
        loss, identical on every rank."""

    @abstractmethod
    def optimizer_step(self, lr: float, apply: bool) -> Update:
        """Set `lr` on every parameter group, then clip and update, unless `apply` is False or the
        gradients are not finite (both leave the training state unchanged). Gradients are cleared
        for the next step either way. Collective; every rank gets the same answer."""

    @abstractmethod
    def eval_loss(self, micro_batches: list[MicroBatch]) -> tuple[float, int]:
        """Summed token NLL (nats) and token count over the global batch, reduced over ranks."""

    @abstractmethod
    def save(self, directory: Path) -> SaveState:
        """Write the model and optimizer state into `directory` (collective: all ranks).

        `SaveState.IN_BACKGROUND`: files are still being written when this returns, and `directory`
        is incomplete until `finalize_saves` says every rank has finished.
        """

    def finalize_saves(self, blocking: bool) -> bool:
        """Collective. Complete the background saves that every rank has finished writing (all of
        them, waiting, when `blocking`). True when no save is pending any more."""
        return True

    @abstractmethod
    def load(self, directory: Path) -> None:
        """Restore what `save` wrote; may reshard where the library supports it."""

    @abstractmethod
    def num_params(self) -> int:
        """Parameters of the whole model (summed over model-parallel ranks)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release process groups and memory."""


def run_step(
    backend: TrainBackend,
    micro_batches: list[MicroBatch],
    lr: float,
    is_bad: Callable[[float], bool] = lambda loss: not math.isfinite(loss),
) -> StepResult:
    """One optimizer step: forward/backward, the caller's verdict on the loss, the update.

    The trainer passes its spike policy as `is_bad`; benchmarks and tests drive a backend the same way.
    """
    loss = backend.forward_backward(micro_batches)
    update = backend.optimizer_step(lr, apply=not is_bad(loss))
    t = backend.cfg.train
    return StepResult(
        loss, update.grad_norm, lr, tokens=t.global_batch_size * t.seq_length, skipped=not update.applied
    )
