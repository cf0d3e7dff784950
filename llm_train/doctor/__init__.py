"""Preflight checks of the current node before a run spends an allocation."""

from llm_train.doctor.checks import Check, Status
from llm_train.doctor.runner import DoctorContext, run_checks

__all__ = ["Check", "DoctorContext", "Status", "run_checks"]
