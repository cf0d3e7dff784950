"""Atomic checkpoints in the run dir (see the run-dir contract in DESIGN.md)."""

from llm_train.checkpoint.manager import CheckpointManager, latest_checkpoint, ready_steps

__all__ = ["CheckpointManager", "latest_checkpoint", "ready_steps"]
