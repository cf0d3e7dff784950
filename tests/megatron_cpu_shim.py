"""Test-only shim that lets megatron-core 0.16 run on CPU with gloo. Never imported by product code.

megatron-core assumes CUDA in a few places that have no flag to turn them off; this covers exactly
those, and nothing else:

1. `torch.cuda.current_device()` used as a device for buffers (attention's global memory buffer,
   RoPE, pipeline p2p shapes, DDP grad buffers): it returns the CPU device.
2. The model-parallel RNG tracker, entered by attention even with dropout 0, stores and swaps
   CUDA generator states: it is replaced by a tracker over CPU generator states (same semantics:
   named states seeded once, forked around a block, the caller's state restored afterwards).
3. `device="cuda"` token counters in every pipeline schedule: the schedules module sees a `torch`
   whose `zeros` maps "cuda" to the CPU.
4. `torch.cuda.synchronize` (pipeline p2p, dist_checkpointing save): a no-op.
5. The default causal mask of the unfused softmax (`get_default_causal_mask`, built with
   `device="cuda"` when no mask is passed): the same mask on the CPU.

`torch.cuda.is_available()` stays False, so the backend still takes its CPU paths (CPU
initialization, gloo, a torch AdamW instead of megatron's CUDA-only optimizer).
Apply with `apply()` in each spawned process before building a model; idempotent.
"""

from __future__ import annotations

import contextlib
import functools
import types

import torch

_applied = False


class _CpuRNGStatesTracker:
    """Stand-in for megatron's CudaRNGStatesTracker, keeping CPU generator states."""

    def __init__(self, *args, **kwargs):
        self.reset()

    def reset(self):
        self.states_, self.seeds_ = {}, set()
        self._is_initialized = False

    def is_initialized(self):
        return self._is_initialized

    def get_states(self):
        return dict(self.states_)

    def set_states(self, states):
        self._is_initialized = True
        self.states_ = states

    def add(self, name, seed):
        self._is_initialized = True
        if seed in self.seeds_ or name in self.states_:
            raise RuntimeError(f"rng state {name!r} / seed {seed} already exists")
        self.seeds_.add(seed)
        self.states_[name] = torch.Generator().manual_seed(seed).get_state()

    @contextlib.contextmanager
    def fork(self, name="model-parallel-rng"):
        if name not in self.states_:
            raise RuntimeError(f"rng state {name!r} is not added")
        outer = torch.get_rng_state()
        torch.set_rng_state(self.states_[name])
        try:
            yield
        finally:
            self.states_[name] = torch.get_rng_state()
            torch.set_rng_state(outer)


def _cpu_zeros(*args, device=None, **kwargs):
    if device is not None and str(device).startswith("cuda"):
        device = "cpu"
    return torch.zeros(*args, device=device, **kwargs)


class _SchedulesTorch(types.ModuleType):
    """`torch` as the pipeline schedules module sees it: everything passes through but `zeros`."""

    zeros = staticmethod(_cpu_zeros)

    def __getattr__(self, name):
        return getattr(torch, name)


@functools.lru_cache
def _cpu_causal_mask(sq: int) -> torch.Tensor:
    return torch.triu(torch.ones(sq, sq), diagonal=1).bool()


def apply() -> None:
    global _applied
    if _applied:
        return
    from megatron.core.fusions import fused_softmax
    from megatron.core.pipeline_parallel import schedules
    from megatron.core.tensor_parallel import random as mp_random

    torch.cuda.current_device = lambda: torch.device("cpu")
    torch.cuda.synchronize = lambda *args, **kwargs: None
    mp_random.CudaRNGStatesTracker = _CpuRNGStatesTracker
    mp_random.initialize_rng_tracker(force_reset=True)
    schedules.torch = _SchedulesTorch("torch")
    fused_softmax.get_default_causal_mask = _cpu_causal_mask
    _applied = True
