"""The layout search space of `llm-train plan`: candidate degrees, filtered by the one set of rules.

This module only proposes (powers of two for TP and CP within a node, divisors for PP, the common
virtual-stage counts, micro batches up to 8, each recompute mode, offload for DeepSpeed); whether a
candidate is valid is `llm_train.parallel.layout_problems`' decision, the same one `config validate`,
`submit` and the backends make. So every layout the plan prints is one `llm-train train` accepts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from llm_train.parallel import ParallelLayout, Runtime, Shape, layout_problems
from llm_train.plan.workload import Workload

RECOMPUTE_MODES = ("none", "selective", "full")


def workload_shape(w: Workload) -> Shape:
    return Shape(w.model, w.seq_length, w.global_batch, w.precision)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _powers_of_two(limit: int) -> list[int]:
    out, v = [], 1
    while v <= limit:
        out.append(v)
        v *= 2
    return out


def enumerate_layouts(
    w: Workload, gpus: int, gpus_per_node: int, offload: bool = False, runtime: Runtime = Runtime()
) -> Iterator[ParallelLayout]:
    """Every valid layout that uses exactly `gpus` devices."""
    shape = workload_shape(w)
    for layout in _candidates(w, gpus, gpus_per_node, offload):
        if not layout_problems(layout, shape, runtime, world_size=gpus):
            yield layout


def _candidates(w: Workload, gpus: int, gpus_per_node: int, offload: bool) -> Iterator[ParallelLayout]:
    if w.backend == "deepspeed":
        yield from _deepspeed_candidates(w, gpus, offload)
        return
    for tp in _powers_of_two(min(gpus_per_node or 1, gpus)):
        for cp in _powers_of_two(gpus // tp):
            for pp in _divisors(gpus // (tp * cp)):
                dp = gpus // (tp * cp * pp)
                for vpp in (None, 2, 4) if pp > 1 else (None,):
                    base = ParallelLayout("megatron", tp=tp, pp=pp, vpp=vpp, cp=cp, dp=dp, sp=tp > 1)
                    yield from _batch_variants(w, base)


def _batch_variants(w: Workload, base: ParallelLayout) -> Iterator[ParallelLayout]:
    for mbs in _powers_of_two(8):
        for recompute in RECOMPUTE_MODES:
            yield replace(base, micro_batch=mbs, recompute=recompute)


def _deepspeed_candidates(w: Workload, gpus: int, offload: bool) -> Iterator[ParallelLayout]:
    for zero in (0, 1, 2, 3):
        offloads = [("none", "none")]
        if offload and zero >= 1:
            offloads.append(("cpu", "none"))
            if zero == 3:
                offloads.append(("cpu", "cpu"))
        for opt_off, par_off in offloads:
            base = ParallelLayout(
                "deepspeed", dp=gpus, zero_stage=zero, offload_optimizer=opt_off, offload_params=par_off
            )
            yield from _batch_variants(w, base)
