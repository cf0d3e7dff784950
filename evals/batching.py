"""Pick a batch size that fits in memory, and fall back to a smaller one when it does not.

On CUDA the largest power of two up to `cap` whose full-length forward pass runs is used (probed
once, largest first, as lm-eval's `find_executable_batch_size` does). On CPU there is no OOM
exception to catch (the kernel kills the process), so the size is estimated from free RAM with a
wide margin. Either way `run_with_fallback` halves the batch on an OOM mid-run instead of failing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

import torch

log = logging.getLogger(__name__)
T = TypeVar("T")
CAP = 64


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _free_ram_bytes() -> int:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30  # unknown: assume a small machine


def cpu_batch_size(model: torch.nn.Module, seq_len: int, cap: int = CAP) -> int:
    """Activations per sample ~ seq * hidden * layers * 24 bytes (fp32, no grad) plus one window of
    logits rows; use a quarter of the free RAM so the tokenizer and the OS keep room."""
    cfg = model.config
    hidden, layers = cfg.hidden_size, cfg.num_hidden_layers
    inter = getattr(cfg, "intermediate_size", 4 * hidden)
    per_sample = (
        seq_len * (hidden * 16 + inter * 8) * 4 + seq_len * cfg.vocab_size * 4 + seq_len * layers * hidden * 4
    )
    return max(1, min(cap, _free_ram_bytes() // 4 // max(per_sample, 1)))


def cuda_batch_size(probe: Callable[[int], None], cap: int = CAP) -> int:
    size = cap
    while size > 1:
        try:
            probe(size)
            return size
        except Exception as exc:
            if not is_oom(exc):
                raise
            torch.cuda.empty_cache()
            size //= 2
    return 1


def auto_batch_size(model: torch.nn.Module, seq_len: int, device: torch.device, cap: int = CAP) -> int:
    if os.environ.get("LLM_TRAIN_EVAL_BATCH"):  # escape hatch on odd machines
        return int(os.environ["LLM_TRAIN_EVAL_BATCH"])
    if device.type != "cuda":
        return cpu_batch_size(model, seq_len, cap)

    def probe(size: int) -> None:
        x = torch.zeros((size, seq_len), dtype=torch.long, device=device)
        with torch.no_grad():
            hidden = model.get_decoder()(input_ids=x).last_hidden_state
            model.get_output_embeddings()(hidden[:, -seq_len // 2 :]).float().log_softmax(-1)

    size = cuda_batch_size(probe, cap)
    log.info("eval batch size %d (probed at %d tokens)", size, seq_len)
    return size


def run_with_fallback(items: list[T], batch_size: int, fn: Callable[[list[T]], None]) -> int:
    """Call fn on consecutive batches; on OOM halve the batch and retry that batch. Returns the size used."""
    i = 0
    while i < len(items):
        batch = items[i : i + batch_size]
        try:
            fn(batch)
        except Exception as exc:
            if not is_oom(exc) or batch_size == 1:
                raise
            batch_size //= 2
            log.warning("out of memory: eval batch size lowered to %d", batch_size)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            continue
        i += len(batch)
    return batch_size
