"""One parallel layout (degrees, ZeRO stage, micro batch, recompute) and the enumeration of valid ones.

Validity follows the same rules as `config.checks` (head, layer and batch divisibility, what each
backend supports), so every layout the search prints is one `llm-train train` accepts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from llm_train.config.schema import ExperimentConfig
from llm_train.plan.workload import Workload

RECOMPUTE_MODES = ("none", "selective", "full")


@dataclass(frozen=True)
class Layout:
    tp: int = 1
    pp: int = 1
    vpp: int | None = None
    cp: int = 1
    dp: int = 1
    zero_stage: int = 1
    distributed_optimizer: bool = True
    micro_batch: int = 1
    recompute: str = "none"
    sp: bool = False
    offload_optimizer: str = "none"
    offload_params: str = "none"

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.cp * self.dp

    def grad_accum(self, global_batch: int) -> int:
        return global_batch // (self.micro_batch * self.dp)

    def short(self, backend: str) -> str:
        parts = [f"tp{self.tp}", f"pp{self.pp}"]
        if self.vpp:
            parts.append(f"vpp{self.vpp}")
        if self.cp > 1:
            parts.append(f"cp{self.cp}")
        parts.append(f"dp{self.dp}")
        if backend == "deepspeed":
            parts.append(f"z{self.zero_stage}")
            if self.offload_optimizer != "none":
                parts.append(f"off-opt:{self.offload_optimizer}")
            if self.offload_params != "none":
                parts.append(f"off-par:{self.offload_params}")
        elif self.distributed_optimizer:
            parts.append("distopt")
        return " ".join(parts)

    def overrides(self, backend: str) -> list[str]:
        """`key=value` overrides that select this layout in an experiment config."""
        out = [
            f"parallel.tp={self.tp}",
            f"parallel.pp={self.pp}",
            f"parallel.vpp={self.vpp if self.vpp else 'null'}",
            f"parallel.cp={self.cp}",
            f"parallel.dp={self.dp}",
            f"parallel.sp={'true' if self.sp else 'false'}",
            f"parallel.recompute={self.recompute}",
            f"train.micro_batch_size={self.micro_batch}",
        ]
        if backend == "deepspeed":
            out += [
                f"parallel.zero_stage={self.zero_stage}",
                f"parallel.offload_optimizer={self.offload_optimizer}",
                f"parallel.offload_params={self.offload_params}",
            ]
        else:
            out.append(f"parallel.distributed_optimizer={'true' if self.distributed_optimizer else 'false'}")
        return out


def layout_from_config(cfg: ExperimentConfig, gpus: int) -> Layout:
    p = cfg.parallel
    mp = p.tp * p.pp * p.cp
    dp = p.dp if p.dp != "auto" else max(1, gpus // mp)
    return Layout(
        tp=p.tp,
        pp=p.pp,
        vpp=p.vpp,
        cp=p.cp,
        dp=dp,
        zero_stage=p.zero_stage,
        distributed_optimizer=p.distributed_optimizer,
        micro_batch=cfg.train.micro_batch_size,
        recompute=p.recompute,
        sp=p.sp,
        offload_optimizer=p.offload_optimizer,
        offload_params=p.offload_params,
    )


def _divisors(n: int, limit: int | None = None) -> list[int]:
    return [d for d in range(1, (limit or n) + 1) if n % d == 0]


def _powers_of_two(limit: int) -> list[int]:
    out, v = [], 1
    while v <= limit:
        out.append(v)
        v *= 2
    return out


def enumerate_layouts(w: Workload, gpus: int, gpus_per_node: int, offload: bool = False) -> Iterator[Layout]:
    """Every valid layout that uses exactly `gpus` devices."""
    m = w.model
    if w.backend == "deepspeed":
        yield from _deepspeed_layouts(w, gpus, offload)
        return
    for tp in _powers_of_two(min(gpus_per_node or 1, m.num_heads, gpus)):
        if m.num_heads % tp or m.kv_heads % tp or m.ffn_hidden_size % tp:
            continue
        for cp in _powers_of_two(gpus // tp):
            if cp > 1 and w.seq_length % (2 * cp):
                continue
            for pp in _divisors(m.num_layers, min(m.num_layers, gpus // (tp * cp))):
                if gpus % (tp * cp * pp):
                    continue
                dp = gpus // (tp * cp * pp)
                for vpp in _vpp_choices(m.num_layers, pp):
                    yield from _batch_variants(w, Layout(tp=tp, pp=pp, vpp=vpp, cp=cp, dp=dp, sp=tp > 1))


def _vpp_choices(layers: int, pp: int) -> list[int | None]:
    if pp == 1:
        return [None]
    # Interleaving needs layers divisible by pp * vpp; 2 and 4 cover what is used in practice.
    return [None] + [v for v in (2, 4) if layers % (pp * v) == 0]


def _batch_variants(w: Workload, base: Layout) -> Iterator[Layout]:
    for mbs in _powers_of_two(8):
        if w.global_batch % (mbs * base.dp):
            continue
        for recompute in RECOMPUTE_MODES:
            yield replace(base, micro_batch=mbs, recompute=recompute)


def _deepspeed_layouts(w: Workload, gpus: int, offload: bool) -> Iterator[Layout]:
    for zero in (0, 1, 2, 3):
        offloads = [("none", "none")]
        if offload and zero >= 1:
            offloads.append(("cpu", "none"))
            if zero == 3:
                offloads.append(("cpu", "cpu"))
        for opt_off, par_off in offloads:
            base = Layout(
                dp=gpus, zero_stage=zero, offload_optimizer=opt_off, offload_params=par_off, recompute="none"
            )
            for layout in _batch_variants(w, base):
                # The HF model of the DeepSpeed backend has one checkpointing mode (whole layers).
                if layout.recompute != "selective":
                    yield layout
