"""Typed, layered experiment configs: composed by `compose` (its docstring has the rules), overridden
and interpolated by `overrides`, validated and hashed by `loader`."""

from llm_train.config.cluster import ClusterConfig
from llm_train.config.loader import ResolvedConfig, dump_yaml, load_config, sha256_text
from llm_train.config.model import ModelConfig
from llm_train.config.schema import ExperimentConfig

__all__ = [
    "ClusterConfig",
    "ExperimentConfig",
    "ModelConfig",
    "ResolvedConfig",
    "dump_yaml",
    "load_config",
    "sha256_text",
]
