"""Typed, layered experiment configs (the config contract in DESIGN.md)."""

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
