"""Cross-field checks that a single field's type cannot express.

Each check returns (key path, value, what was expected), so the loader can name the file
that set the offending key.
"""

from __future__ import annotations

from collections.abc import Iterator

from llm_train.config.schema import ExperimentConfig

Problem = tuple[str, object, str]


def consistency_problems(cfg: ExperimentConfig) -> list[Problem]:
    return list(_model(cfg)) + list(_train(cfg)) + list(_parallel(cfg))


def _model(cfg: ExperimentConfig) -> Iterator[Problem]:
    m = cfg.model
    if m.hidden_size % m.num_heads:
        yield "model.hidden_size", m.hidden_size, f"a multiple of model.num_heads ({m.num_heads})"
    if m.num_heads % m.kv_heads:
        yield "model.num_kv_heads", m.num_kv_heads, f"a divisor of model.num_heads ({m.num_heads})"
    if m.head_dim % 2:
        yield "model.hidden_size", m.hidden_size, "hidden_size / num_heads must be even for RoPE"


def _train(cfg: ExperimentConfig) -> Iterator[Problem]:
    t = cfg.train
    if (t.steps is None) == (t.tokens is None):
        yield "train.steps", t.steps, "exactly one of train.steps or train.tokens to be set"
    if t.seq_length > cfg.model.max_seq_len:
        yield "train.seq_length", t.seq_length, f"<= model.max_seq_len ({cfg.model.max_seq_len})"
    if t.min_lr > t.lr:
        yield "train.min_lr", t.min_lr, f"<= train.lr ({t.lr})"
    if cfg.parallel.dp == "auto" and t.global_batch_size % t.micro_batch_size:
        yield (
            "train.global_batch_size",
            t.global_batch_size,
            f"a multiple of train.micro_batch_size ({t.micro_batch_size})",
        )
    if t.steps is not None and t.warmup_steps > t.steps:
        yield "train.warmup_steps", t.warmup_steps, f"<= train.steps ({t.steps})"


def _parallel(cfg: ExperimentConfig) -> Iterator[Problem]:
    p, m, t = cfg.parallel, cfg.model, cfg.train
    if p.dp != "auto":
        per_step = t.micro_batch_size * p.dp
        if t.global_batch_size % per_step:
            yield (
                "train.global_batch_size",
                t.global_batch_size,
                f"a multiple of micro_batch_size x data-parallel size "
                f"({t.micro_batch_size} x {p.dp} = {per_step})",
            )
    if m.num_heads % p.tp:
        yield "parallel.tp", p.tp, f"a divisor of model.num_heads ({m.num_heads})"
    elif m.kv_heads % p.tp:
        yield "parallel.tp", p.tp, f"a divisor of the KV heads ({m.kv_heads})"
    stages = p.pp * (p.vpp or 1)
    if m.num_layers % stages:
        yield "parallel.pp", p.pp, f"pp x vpp ({stages}) dividing model.num_layers ({m.num_layers})"
    if p.vpp is not None and p.pp == 1:
        yield "parallel.vpp", p.vpp, "unset unless parallel.pp > 1"
    if p.sp and p.tp == 1:
        yield "parallel.sp", p.sp, "false unless parallel.tp > 1 (sequence parallel splits over TP)"
    if p.cp > 1 and t.seq_length % (2 * p.cp):
        yield "parallel.cp", p.cp, f"2 x cp dividing train.seq_length ({t.seq_length})"
    if p.backend == "deepspeed":
        for key in ("tp", "pp", "cp"):
            if getattr(p, key) > 1:
                yield f"parallel.{key}", getattr(p, key), "1 with backend deepspeed (use backend megatron)"
        if p.offload_params != "none" and p.zero_stage != 3:
            yield "parallel.offload_params", p.offload_params, "none unless parallel.zero_stage is 3"
        if p.offload_optimizer != "none" and p.zero_stage == 0:
            yield "parallel.offload_optimizer", p.offload_optimizer, "none when parallel.zero_stage is 0"
        if cfg.checkpoint.async_save:
            # DeepSpeed's background writers (decoupled/fast engines: its AIO op; DataStates: an extra
            # package) do not fit the publish-after-all-ranks-wrote layout without more work.
            yield (
                "checkpoint.async_save",
                True,
                "false with backend deepspeed (asynchronous saves need parallel.backend=megatron)",
            )
    if "nvme" in (p.offload_optimizer, p.offload_params) and not p.nvme_path:
        yield "parallel.nvme_path", p.nvme_path, "a directory when offloading to nvme"
    if cfg.cluster.scheduler == "slurm" and cfg.cluster.hardware.gpus_per_node:
        world = p.world_size()
        devices = cfg.cluster.nodes * cfg.cluster.hardware.gpus_per_node
        if world is not None and world != devices:
            yield (
                "parallel.dp",
                p.dp,
                f"tp*pp*cp*dp = {world} to equal cluster.nodes x gpus_per_node = {devices} (or 'auto')",
            )
