"""The train section: optimizer, schedule, batch sizes, precision, length, cadence, stability."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt

from llm_train.config.base import Section


class SpikePolicyConfig(Section):
    """What to do with a NaN/Inf or spiking loss (OLMo-core / Megatron rerun style)."""

    enabled: bool = True
    # A step is bad if its loss is non-finite or exceeds mean + zscore * std of the recent window.
    zscore: float = Field(6.0, gt=0)
    window: PositiveInt = 50
    # Minimum steps of history before z-score spikes are judged (NaN/Inf is always bad).
    warmup_steps: NonNegativeInt = 20
    # After this many bad steps inside the window, roll back to the last checkpoint.
    max_bad_steps: PositiveInt = 3
    # Samples skipped after a rollback so the offending data window is not replayed.
    skip_samples_on_rollback: NonNegativeInt = 0
    max_rollbacks: NonNegativeInt = 3


class TrainConfig(Section):
    seed: NonNegativeInt = 42
    # Exactly one of steps / tokens sets the run length.
    steps: PositiveInt | None = None
    tokens: PositiveInt | None = None
    seq_length: PositiveInt = 2048
    global_batch_size: PositiveInt = 8
    micro_batch_size: PositiveInt = 1
    precision: Literal["fp32", "bf16", "fp16"] = "bf16"

    lr: float = Field(3e-4, gt=0)
    min_lr: float = Field(3e-5, ge=0)
    schedule: Literal["cosine", "wsd", "constant", "linear"] = "cosine"
    warmup_steps: NonNegativeInt = 100
    # WSD: fraction of all steps spent in the final decay.
    decay_fraction: float = Field(0.2, gt=0, le=1)
    weight_decay: float = Field(0.1, ge=0)
    adam_beta1: float = Field(0.9, ge=0, lt=1)
    adam_beta2: float = Field(0.95, ge=0, lt=1)
    adam_eps: float = Field(1e-8, gt=0)
    grad_clip: float = Field(1.0, ge=0)

    log_every: PositiveInt = 10
    eval_every: NonNegativeInt = 0
    eval_iters: PositiveInt = 10
    # "auto": resume from the run dir's latest checkpoint if any; "never"; or a checkpoint path.
    resume: str = "auto"
    # MFU denominator per device; None takes the cluster profile's peak.
    peak_tflops: float | None = Field(None, gt=0)
    spike: SpikePolicyConfig = SpikePolicyConfig()
    # Resuming with another global batch cuts the same sample sequence into other steps; refused
    # unless set (the LR schedule and train.tokens then count different steps).
    allow_batch_change: bool = False
    # Hang watchdog: no step finished within this many seconds -> every rank dumps its Python stacks
    # to RUN_DIR/hangs/ and exits with the requeue code. None: 10 x the median step time, at least
    # hang_timeout_floor_s. Armed after the first step (start-up has its own collective timeouts).
    hang_timeout_s: float | None = Field(None, gt=0)
    hang_timeout_floor_s: float = Field(300.0, gt=0)
    # Stragglers: every N steps each rank's forward time is compared with the median over ranks;
    # a rank slower than straggler_factor x median is logged with its host (0 turns it off).
    straggler_every: NonNegativeInt = 50
    straggler_factor: float = Field(1.5, gt=1)
    # Extra trainer callbacks, "package.module:Class" (constructed without arguments).
    callbacks: list[str] = Field(default_factory=list)
