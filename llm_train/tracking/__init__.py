"""Metrics: metrics.jsonl (always, the source of truth) and Aim (rank 0, best effort)."""

from llm_train.tracking.aim_tracker import AimTracker
from llm_train.tracking.jsonl import JsonlWriter, last_per_step, read_metrics

__all__ = ["AimTracker", "JsonlWriter", "last_per_step", "read_metrics"]
