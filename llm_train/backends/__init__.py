"""Training backends (DeepSpeed, megatron-core) behind one interface: see `base.TrainBackend`.

Backends are imported lazily: building a DeepSpeed run never imports megatron's model code and
vice versa.
"""

from __future__ import annotations

import importlib

from llm_train.backends.base import MicroBatch, SaveState, StepResult, TrainBackend, Update, run_step
from llm_train.config.schema import ExperimentConfig
from llm_train.errors import ConfigError, ConfigProblem
from llm_train.launch.dist_env import DistEnv

# name -> "module:Class"; the one place a backend is registered.
BACKENDS: dict[str, str] = {
    "deepspeed": "llm_train.backends.deepspeed_backend:DeepSpeedBackend",
    "megatron": "llm_train.backends.megatron_backend:MegatronBackend",
}


def backend_class(name: str) -> type[TrainBackend]:
    if name not in BACKENDS:
        raise ConfigError(
            [ConfigProblem(None, "parallel.backend", f"expected one of {', '.join(BACKENDS)}", name)]
        )
    module_name, cls_name = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module_name), cls_name)


def build_backend(cfg: ExperimentConfig, dist: DistEnv) -> TrainBackend:
    """The backend named by `parallel.backend`, constructed (call `.build()` next)."""
    return backend_class(cfg.parallel.backend)(cfg, dist)


__all__ = [
    "BACKENDS",
    "MicroBatch",
    "SaveState",
    "StepResult",
    "TrainBackend",
    "Update",
    "backend_class",
    "build_backend",
    "run_step",
]
