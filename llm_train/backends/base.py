"""The seam between the trainer loop and a parallelism library.

The trainer never touches parallelism: it hands each backend this rank's micro batches for one
optimizer step and gets back numbers. DeepSpeed and megatron-core implement this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_train.config.schema import ExperimentConfig
from llm_train.launch.dist_env import DistEnv

# A micro batch as produced by megatron-core's GPTDataset collation:
# tokens [b, s] int64, labels [b, s] int64, loss_mask [b, s] float, position_ids [b, s] int64.
MicroBatch = dict[str, Any]


@dataclass
class StepResult:
    loss: float  # mean token loss over the global batch (identical on every rank)
    grad_norm: float  # before clipping
    lr: float
    tokens: int  # tokens in the global batch
    skipped: bool = False  # optimizer step not applied (non-finite loss/grad or spike policy)


class TrainBackend(ABC):
    name: str = "base"
    # Set by the trainer (loss-spike policy): called on every rank with the step's global mean loss
    # after backward and before the update; True skips the update like `skip_step`. Additive hook:
    # a backend that cannot decide this late may ignore it (bad losses are then only counted).
    skip_predicate: Callable[[float], bool] | None = None

    def __init__(self, cfg: ExperimentConfig, dist: DistEnv):
        self.cfg = cfg
        self.dist = dist

    @abstractmethod
    def build(self, total_steps: int) -> None:
        """Create model, optimizer and LR schedule for `total_steps` optimizer steps."""

    @property
    @abstractmethod
    def dp_rank(self) -> int:
        """This rank's data-parallel index (which slice of the global batch it reads)."""

    @property
    @abstractmethod
    def dp_size(self) -> int: ...

    @abstractmethod
    def train_step(self, micro_batches: list[MicroBatch], skip_step: bool = False) -> StepResult:
        """Forward/backward over this rank's micro batches, then one optimizer step.

        `skip_step=True` computes loss and grad norm but applies no update (spike policy).
        A non-finite loss or grad norm must also skip the update and set `skipped`.
        """

    @abstractmethod
    def eval_loss(self, micro_batches: list[MicroBatch]) -> tuple[float, int]:
        """Summed token NLL (nats) and token count over the global batch, reduced over ranks."""

    @abstractmethod
    def save(self, directory: Path) -> bool | None:
        """Write the full training state (model, optimizer, scheduler) into `directory` (all ranks).

        A backend that saves asynchronously returns True while the files are still being written
        in the background: `directory` is then incomplete until `finalize_saves` says it is done.
        A synchronous save returns None (or False) with the files complete.
        """

    def finalize_saves(self, blocking: bool) -> bool:
        """Collective. Complete the asynchronous saves that every rank has finished writing (all of
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
