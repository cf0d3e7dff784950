"""Callbacks: the trainer's extension points (OLMo-core style hooks).

Every hook gets the trainer; callbacks that must survive preemption implement `state_dict` /
`load_state_dict` and are saved in every checkpoint under their `name`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_train.backends.base import StepResult

if TYPE_CHECKING:
    from llm_train.trainer.trainer import Trainer


class Callback:
    name = "callback"

    def pre_train(self, trainer: Trainer) -> None: ...
    def pre_step(self, trainer: Trainer, step: int) -> None: ...
    def post_step(self, trainer: Trainer, step: int, result: StepResult, metrics: dict[str, float]) -> None:
        """`step` is the step just finished (1-based); add derived values to `metrics`."""

    def log_metrics(
        self, trainer: Trainer, step: int, metrics: dict[str, float], context: dict[str, str]
    ) -> None: ...
    def log_event(self, trainer: Trainer, step: int, event: str, fields: dict[str, Any]) -> None: ...
    def pre_checkpoint(self, trainer: Trainer, step: int) -> None: ...
    def post_checkpoint_saved(self, trainer: Trainer, step: int, path: Path) -> None: ...
    def on_error(self, trainer: Trainer, exc: BaseException) -> None: ...
    def close(self, trainer: Trainer) -> None: ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None: ...
