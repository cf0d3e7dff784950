"""Cross-field checks that a single field's type cannot express (the parallel layout's are
`llm_train.parallel.layout`'s).

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
    if t.steps is not None and t.warmup_steps > t.steps:
        yield "train.warmup_steps", t.warmup_steps, f"<= train.steps ({t.steps})"


def _parallel(cfg: ExperimentConfig) -> Iterator[Problem]:
    # The layout rules have one owner; a Slurm GPU profile fixes the world size up front.
    # (Imported here: llm_train.parallel imports this config package.)
    from llm_train.parallel.layout import cluster_world_size, config_problems

    yield from config_problems(
        cfg, cluster_world_size(cfg), world_source="the profile's ranks (cluster.nodes x GPUs per node)"
    )
