"""One parallel layout and the one set of rules it must obey (torchtitan's `ParallelDims`, in spirit).

A `ParallelLayout` holds the degrees (TP, PP, virtual PP, CP, DP, SP), the ZeRO stage / distributed
optimizer, the micro batch, recompute and offload choices of one run. `layout_problems` is the only
place in the project that knows which of them fit together:

- the world size: tp x pp x cp divides it, and dp (when given) is its quotient;
- the model: tp divides the query heads, the KV heads, the FFN width and the padded vocabulary;
  pp x vpp divides the layers; vpp only with pp > 1;
- sequence parallel: the sequence divisible by tp (with tp = 1 there is nothing to split and
  `parallel.sp` is ignored, as Megatron-LM's argument check does, so `parallel.tp=1` can be tried
  on an experiment that enables SP);
- context parallel: 2 x cp divides the sequence, and the attention is Transformer Engine's;
- the batch: the global batch is a multiple of micro batch x dp; the interleaved schedule needs the
  micro batches of a step divisible by pp;
- the backend: DeepSpeed has no TP/PP/CP and only whole-layer recompute; offload is DeepSpeed's
  (params only at ZeRO-3, optimizer from ZeRO-1); megatron on CPU trains in fp32 and DeepSpeed on
  CPU refuses fp16.

Callers: `config validate`/`show` (through the config loader), `submit` before sbatch (with the job's
rank count), `plan` (every candidate it prints), both backends at start (with the real world size and
`Runtime.detect()`), and the local launcher (how many ranks to start). Each problem is
(key path, value, what would be valid), so the config loader can also name the file that set the key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from llm_train.config.model import ModelConfig
from llm_train.config.schema import ExperimentConfig
from llm_train.errors import ConfigError, ConfigProblem
from llm_train.parallel.runtime import Runtime

Problem = tuple[str, object, str]  # (key path, value, what was expected)


@dataclass(frozen=True)
class Shape:
    """What the rules read of the model and the batch."""

    model: ModelConfig
    seq_length: int
    global_batch: int
    precision: str = "bf16"

    @classmethod
    def from_config(cls, cfg: ExperimentConfig) -> Shape:
        t = cfg.train
        return cls(cfg.model, t.seq_length, t.global_batch_size, t.precision)


@dataclass(frozen=True)
class ParallelLayout:
    backend: str = "megatron"
    tp: int = 1
    pp: int = 1
    vpp: int | None = None
    cp: int = 1
    # None: not known yet (parallel.dp=auto before the world size is).
    dp: int | None = 1
    sp: bool = False
    zero_stage: int = 1
    distributed_optimizer: bool = True
    micro_batch: int = 1
    recompute: str = "none"
    offload_optimizer: str = "none"
    offload_params: str = "none"

    @classmethod
    def from_config(cls, cfg: ExperimentConfig, world_size: int | None = None) -> ParallelLayout:
        """The configured layout; `parallel.dp=auto` is derived from `world_size` when it divides."""
        p = cfg.parallel
        dp: int | None = p.dp if isinstance(p.dp, int) else None
        mp = p.tp * p.pp * p.cp
        if dp is None and world_size and world_size % mp == 0:
            dp = world_size // mp
        return cls(
            backend=p.backend,
            tp=p.tp,
            pp=p.pp,
            vpp=p.vpp,
            cp=p.cp,
            dp=dp,
            sp=p.sp and p.tp > 1,
            zero_stage=p.zero_stage,
            distributed_optimizer=p.distributed_optimizer,
            micro_batch=cfg.train.micro_batch_size,
            recompute=p.recompute,
            offload_optimizer=p.offload_optimizer,
            offload_params=p.offload_params,
        )

    @property
    def model_parallel_size(self) -> int:
        return self.tp * self.pp * self.cp

    @property
    def world_size(self) -> int | None:
        return None if self.dp is None else self.model_parallel_size * self.dp

    @property
    def model_chunks(self) -> int:
        """Model chunks per rank: the virtual pipeline stages (interleaved 1F1B), else one."""
        return self.vpp or 1

    def micro_batches_per_step(self, global_batch: int) -> int:
        """Micro batches each data-parallel rank runs per optimizer step (gradient accumulation)."""
        return global_batch // (self.micro_batch * (self.dp or 1))

    def with_dp(self, dp: int) -> ParallelLayout:
        return replace(self, dp=dp)

    def short(self) -> str:
        parts = [f"tp{self.tp}", f"pp{self.pp}"]
        if self.vpp:
            parts.append(f"vpp{self.vpp}")
        if self.cp > 1:
            parts.append(f"cp{self.cp}")
        parts.append(f"dp{self.dp}")
        if self.backend == "deepspeed":
            parts.append(f"z{self.zero_stage}")
            if self.offload_optimizer != "none":
                parts.append(f"off-opt:{self.offload_optimizer}")
            if self.offload_params != "none":
                parts.append(f"off-par:{self.offload_params}")
        elif self.distributed_optimizer:
            parts.append("distopt")
        return " ".join(parts)

    def overrides(self) -> list[str]:
        """`key=value` overrides that select this layout in an experiment config."""
        out = [
            f"parallel.tp={self.tp}",
            f"parallel.pp={self.pp}",
            f"parallel.vpp={self.vpp if self.vpp else 'null'}",
            f"parallel.cp={self.cp}",
            f"parallel.dp={self.dp if self.dp is not None else 'auto'}",
            f"parallel.sp={'true' if self.sp else 'false'}",
            f"parallel.recompute={self.recompute}",
            f"train.micro_batch_size={self.micro_batch}",
        ]
        if self.backend == "deepspeed":
            out += [
                f"parallel.zero_stage={self.zero_stage}",
                f"parallel.offload_optimizer={self.offload_optimizer}",
                f"parallel.offload_params={self.offload_params}",
            ]
        else:
            out.append(f"parallel.distributed_optimizer={'true' if self.distributed_optimizer else 'false'}")
        return out


def layout_problems(
    layout: ParallelLayout,
    shape: Shape,
    runtime: Runtime = Runtime(),
    world_size: int | None = None,
    world_source: str = "the world size",
) -> list[Problem]:
    """Everything about `layout` that the backend would refuse at start (empty: it runs)."""
    return [
        *_world(layout, world_size, world_source),
        *_model(layout, shape),
        *_sequence(layout, shape, runtime),
        *_batch(layout, shape),
        *_backend(layout, shape, runtime),
    ]


def _world(layout: ParallelLayout, world: int | None, source: str) -> Iterator[Problem]:
    if world is None:
        return
    mp = layout.model_parallel_size
    if world % mp:
        yield "parallel.tp", layout.tp, f"tp x pp x cp = {mp} dividing {source} ({world})"
    elif layout.dp is not None and layout.dp != world // mp:
        yield (
            "parallel.dp",
            layout.dp,
            f"{source} / (tp x pp x cp) = {world} / {mp} = {world // mp}, or 'auto'",
        )


def _model(layout: ParallelLayout, shape: Shape) -> Iterator[Problem]:
    m, tp = shape.model, layout.tp
    for key, total in (
        ("model.num_heads", m.num_heads),
        ("model.num_kv_heads", m.kv_heads),
        ("model.ffn_hidden_size", m.ffn_hidden_size),
    ):
        if total % tp:
            yield "parallel.tp", tp, f"a divisor of {key} ({total})"
    if m.padded_vocab_size % tp:
        yield (
            "model.make_vocab_size_divisible_by",
            m.make_vocab_size_divisible_by,
            f"a padded vocabulary ({m.padded_vocab_size}) divisible by parallel.tp ({tp})",
        )
    stages = layout.pp * (layout.vpp or 1)
    if m.num_layers % stages:
        yield "parallel.pp", layout.pp, f"pp x vpp ({stages}) dividing model.num_layers ({m.num_layers})"
    if layout.vpp is not None and layout.pp == 1:
        yield "parallel.vpp", layout.vpp, "unset unless parallel.pp > 1"


def _sequence(layout: ParallelLayout, shape: Shape, runtime: Runtime) -> Iterator[Problem]:
    if layout.sp and shape.seq_length % layout.tp:
        yield (
            "train.seq_length",
            shape.seq_length,
            f"divisible by parallel.tp ({layout.tp}) with sequence parallel",
        )
    if layout.cp > 1:
        if shape.seq_length % (2 * layout.cp):
            yield "parallel.cp", layout.cp, f"2 x cp dividing train.seq_length ({shape.seq_length})"
        if runtime.te is False:
            yield (
                "parallel.cp",
                layout.cp,
                "1 without Transformer Engine on CUDA (context parallel attention is TE's)",
            )


def _batch(layout: ParallelLayout, shape: Shape) -> Iterator[Problem]:
    per_step = layout.micro_batch * (layout.dp or 1)
    if shape.global_batch % per_step:
        what = (
            f"a multiple of micro_batch_size x data-parallel size ({layout.micro_batch} x {layout.dp} = {per_step})"
            if layout.dp is not None
            else f"a multiple of train.micro_batch_size ({layout.micro_batch})"
        )
        yield "train.global_batch_size", shape.global_batch, what
    elif layout.dp is not None and layout.vpp is not None and (shape.global_batch // per_step) % layout.pp:
        yield (
            "train.global_batch_size",
            shape.global_batch,
            f"micro batches per step ({shape.global_batch // per_step}) divisible by parallel.pp "
            f"({layout.pp}) for the interleaved schedule",
        )


def _backend(layout: ParallelLayout, shape: Shape, runtime: Runtime) -> Iterator[Problem]:
    if layout.backend == "deepspeed":
        for key in ("tp", "pp", "cp"):
            if getattr(layout, key) > 1:
                yield (
                    f"parallel.{key}",
                    getattr(layout, key),
                    "1 with backend deepspeed (use backend megatron)",
                )
        if layout.recompute == "selective":
            yield (
                "parallel.recompute",
                "selective",
                "none or full with backend deepspeed (its HF model recomputes whole layers only)",
            )
        if layout.offload_params != "none" and layout.zero_stage != 3:
            yield "parallel.offload_params", layout.offload_params, "none unless parallel.zero_stage is 3"
        if layout.offload_optimizer != "none" and layout.zero_stage == 0:
            yield "parallel.offload_optimizer", layout.offload_optimizer, "none when parallel.zero_stage is 0"
        if runtime.cuda is False and shape.precision == "fp16":
            yield "train.precision", shape.precision, "fp32 or bf16 with backend deepspeed on CPU"
        return
    for key in ("offload_optimizer", "offload_params"):
        if getattr(layout, key) != "none":
            yield (
                f"parallel.{key}",
                getattr(layout, key),
                "none with backend megatron (offload is DeepSpeed's; use backend deepspeed)",
            )
    if runtime.cuda is False and shape.precision != "fp32":
        yield (
            "train.precision",
            shape.precision,
            "fp32 with backend megatron on CPU (megatron's mixed-precision optimizer is CUDA-only)",
        )


def config_problems(
    cfg: ExperimentConfig,
    world_size: int | None = None,
    runtime: Runtime | None = None,
    world_source: str = "the world size",
) -> list[Problem]:
    """`layout_problems` for a config, plus the options of other sections that a backend refuses."""
    runtime = Runtime.for_cluster(cfg.cluster) if runtime is None else runtime
    p = cfg.parallel
    layout = ParallelLayout.from_config(cfg, world_size)
    problems = layout_problems(layout, Shape.from_config(cfg), runtime, world_size, world_source)
    if "nvme" in (p.offload_optimizer, p.offload_params) and not p.nvme_path:
        problems.append(("parallel.nvme_path", p.nvme_path, "a directory when offloading to nvme"))
    if p.backend == "deepspeed" and cfg.checkpoint.async_save:
        # DeepSpeed's background writers (decoupled/fast engines: its AIO op; DataStates: an extra
        # package) do not fit the publish-after-all-ranks-wrote layout without more work.
        problems.append(
            (
                "checkpoint.async_save",
                True,
                "false with backend deepspeed (asynchronous saves need parallel.backend=megatron)",
            )
        )
    return problems


def ranks_per_node(gpus_per_node: int) -> int:
    """Training ranks on one node of a job: one per GPU, or one per node without GPUs."""
    return max(1, gpus_per_node)


def cluster_world_size(cfg: ExperimentConfig) -> int | None:
    """The ranks a Slurm profile's allocation gives (its nodes x ranks per node); None for the
    `local` profile, where the user picks the number of processes."""
    c = cfg.cluster
    if c.scheduler == "slurm":
        return c.nodes * ranks_per_node(c.hardware.gpus_per_node)
    return None


def layout_error(problems: list[Problem]) -> ConfigError:
    return ConfigError(
        [ConfigProblem(None, key, f"expected {expected}", value) for key, value, expected in problems]
    )


def resolve_layout(cfg: ExperimentConfig, world_size: int, runtime: Runtime | None = None) -> ParallelLayout:
    """The layout of a job with `world_size` ranks, or a ConfigError listing all that does not fit."""
    problems = config_problems(cfg, world_size, runtime or Runtime.detect())
    if problems:
        raise layout_error(problems)
    return ParallelLayout.from_config(cfg, world_size)
