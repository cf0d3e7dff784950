"""Atomic checkpoints of the full training state (layout: the run-dir contract in `llm_train.run_dir`)."""

from llm_train.checkpoint.manager import CheckpointManager

__all__ = ["CheckpointManager"]
