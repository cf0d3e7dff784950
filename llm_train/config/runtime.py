"""Checkpoint, tracking and eval sections."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt

from llm_train.config.base import Section


class CheckpointConfig(Section):
    every_steps: NonNegativeInt = 1000
    # Retention: keep the newest K and every M-th step; the last good one is never deleted.
    keep_last: PositiveInt = 2
    keep_every: NonNegativeInt = 0
    save_on_signal: bool = True
    save_final: bool = True
    async_save: bool = False


class StorageConfig(Section):
    # Who may read what the run writes (llm_train.storage): the project group (default), only the
    # user, or every user of the machine.
    share: Literal["private", "group", "world"] = "group"


class TrackingConfig(Section):
    aim: bool = True
    # A local repo path (default: <runs_dir>/aim) or an on-site server "aim://host:port".
    aim_repo: str | None = None
    system_metrics: bool = True
    system_metrics_interval_s: PositiveInt = 60
    # kWh, CO2 and GPU-hours on every logged step: NVML / RAPL counters where readable, else the
    # cluster profile's power figures (llm_train.trainer.energy).
    energy: bool = True


class EvalConfig(Section):
    # Multiple-choice task files (JSONL) or registered suite names.
    tasks: list[str] = Field(default_factory=list)
    # Languages for BPB; empty means every language found in the validation corpus.
    languages: list[str] = Field(default_factory=list)
    max_docs_per_language: PositiveInt = 200
    max_tokens_per_doc: PositiveInt = 4096
    batch_size: PositiveInt | Literal["auto"] = "auto"
    # Evaluate in the training loop every N steps (0 = only via `llm-train eval`).
    every_steps: NonNegativeInt = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Token before every scored text: "eod" (what precedes a document in packed data) or "bos".
    bos_policy: Literal["eod", "bos"] = "eod"
