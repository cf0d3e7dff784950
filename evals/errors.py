"""Errors of the evals package (all in the project's one exception family)."""

from __future__ import annotations

from llm_train.errors import LLMTrainError


class EvalError(LLMTrainError):
    """An evaluation cannot run as asked (bad arguments, missing corpus or tokenizer)."""


class CheckpointError(EvalError):
    """A checkpoint is missing, incomplete (no ready marker) or unreadable; it is skipped, not fatal."""
