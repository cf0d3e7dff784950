"""Shared pytest setup. Part-specific fixtures live in their own plugin modules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.slurm_cluster"]

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"

# Keep torch/tokenizers to one thread per process: tests spawn several processes on 2 cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def configs_root() -> Path:
    return CONFIGS


@pytest.fixture(autouse=True)
def _process_umask():
    """CLI calls in-process set the storage policy's umask; the next test starts from the old one."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)
