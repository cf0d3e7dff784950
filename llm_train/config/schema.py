"""The experiment config: one typed tree, composed from YAML files by `loader`."""

from __future__ import annotations

from pydantic import Field

from llm_train.config.base import Section
from llm_train.config.cluster import ClusterConfig
from llm_train.config.data import DataConfig
from llm_train.config.model import ModelConfig
from llm_train.config.parallel import ParallelConfig
from llm_train.config.runtime import CheckpointConfig, EvalConfig, StorageConfig, TrackingConfig
from llm_train.config.train import TrainConfig


class ExperimentConfig(Section):
    # Experiment name: runs land in <runs_dir>/<name>/<run-id>/.
    name: str = Field("experiment", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    runs_dir: str = "runs"
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    parallel: ParallelConfig = ParallelConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    tracking: TrackingConfig = TrackingConfig()
    cluster: ClusterConfig = ClusterConfig()
    eval: EvalConfig = EvalConfig()
    storage: StorageConfig = StorageConfig()
