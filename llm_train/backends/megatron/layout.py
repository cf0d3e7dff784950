"""The parallel layout of a megatron run, checked before any process group exists.

Every problem is reported at once, each naming the config key to change, so a bad layout fails
in a second on the login node rather than after minutes of model building on every rank.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_train.config.schema import ExperimentConfig
from llm_train.errors import ConfigError, ConfigProblem


@dataclass(frozen=True)
class Layout:
    tp: int
    pp: int
    vpp: int | None
    cp: int
    dp: int
    sp: bool

    @property
    def world_size(self) -> int:
        return self.tp * self.pp * self.cp * self.dp

    @property
    def model_chunks(self) -> int:
        """Model chunks per rank: the virtual pipeline stages (interleaved 1F1B), else one."""
        return self.vpp or 1

    def micro_batches_per_step(self, cfg: ExperimentConfig) -> int:
        t = cfg.train
        return t.global_batch_size // (t.micro_batch_size * self.dp)


def resolve_layout(cfg: ExperimentConfig, world_size: int, have_te: bool) -> Layout:
    """The layout for `world_size` ranks, or a ConfigError listing everything that does not fit."""
    p, m, t = cfg.parallel, cfg.model, cfg.train
    problems: list[ConfigProblem] = []

    def problem(key: str, value: object, message: str) -> None:
        problems.append(ConfigProblem(None, key, message, value))

    mp = p.tp * p.pp * p.cp
    dp = world_size // mp if world_size % mp == 0 else 0
    if dp == 0:
        problem("parallel.tp", p.tp, f"tp x pp x cp = {mp} dividing the world size ({world_size})")
    elif p.dp != "auto" and p.dp != dp:
        problem("parallel.dp", p.dp, f"world size / (tp x pp x cp) = {world_size} / {mp} = {dp}, or 'auto'")
    for key, total in (("model.num_heads", m.num_heads), ("model.num_kv_heads", m.kv_heads)):
        if total % p.tp:
            problem("parallel.tp", p.tp, f"a divisor of {key} ({total})")
    if m.ffn_hidden_size % p.tp:
        problem("parallel.tp", p.tp, f"a divisor of model.ffn_hidden_size ({m.ffn_hidden_size})")
    if m.padded_vocab_size % p.tp:
        problem(
            "model.make_vocab_size_divisible_by",
            m.make_vocab_size_divisible_by,
            f"a padded vocabulary ({m.padded_vocab_size}) divisible by parallel.tp ({p.tp})",
        )
    stages = p.pp * (p.vpp or 1)
    if m.num_layers % stages:
        problem("parallel.pp", p.pp, f"pp x vpp ({stages}) dividing model.num_layers ({m.num_layers})")
    if p.vpp is not None and p.pp == 1:
        problem("parallel.vpp", p.vpp, "unset unless parallel.pp > 1")
    if p.sp and p.tp == 1:
        problem("parallel.sp", p.sp, "false unless parallel.tp > 1 (sequence parallel splits over TP)")
    if p.sp and t.seq_length % p.tp:
        problem("train.seq_length", t.seq_length, f"divisible by parallel.tp ({p.tp}) with sequence parallel")
    if p.cp > 1:
        if not have_te:
            problem(
                "parallel.cp",
                p.cp,
                "1 without Transformer Engine on CUDA (context parallel attention is TE's)",
            )
        if t.seq_length % (2 * p.cp):
            problem("parallel.cp", p.cp, f"2 x cp dividing train.seq_length ({t.seq_length})")
    if dp:
        per_step = t.micro_batch_size * dp
        if t.global_batch_size % per_step:
            problem(
                "train.global_batch_size",
                t.global_batch_size,
                f"a multiple of micro_batch_size x data-parallel size ({t.micro_batch_size} x {dp})",
            )
        elif p.vpp is not None and (t.global_batch_size // per_step) % p.pp:
            problem(
                "train.global_batch_size",
                t.global_batch_size,
                f"micro batches per step ({t.global_batch_size // per_step}) divisible by parallel.pp "
                f"({p.pp}) for the interleaved schedule",
            )
    if problems:
        raise ConfigError(problems)
    return Layout(tp=p.tp, pp=p.pp, vpp=p.vpp, cp=p.cp, dp=dp, sp=p.sp)
