"""One forward/backward pass over a rank's micro batches through megatron's pipeline schedules.

`get_forward_backward_func` picks no-pipelining, 1F1B or interleaved 1F1B from parallel_state; it
accumulates gradients over the micro batches into the DDP grad buffers and calls
`finalize_model_grads` (DP reduce, SP norm and tied-embedding reductions, division by the global
token count). The loss is a per-token sum, so the result is the exact mean over the global batch
whatever the split into micro batches, data-parallel and context-parallel ranks.
"""

from __future__ import annotations

import contextlib
from functools import partial

import torch
import torch.distributed as dist
from megatron.core import parallel_state
from megatron.core.pipeline_parallel import get_forward_backward_func
from megatron.core.utils import get_batch_on_this_cp_rank

from llm_train.backends.base import MicroBatch

BATCH_KEYS = ("tokens", "labels", "loss_mask", "position_ids")


def _to_device(mb: MicroBatch) -> dict[str, torch.Tensor]:
    batch = {key: torch.as_tensor(mb[key]) for key in BATCH_KEYS}
    if torch.cuda.is_available():
        batch = {key: value.cuda(non_blocking=True) for key, value in batch.items()}
    # Each context-parallel rank keeps 2 of the 2*cp sequence chunks (load-balanced causal attention).
    return get_batch_on_this_cp_rank(batch)


def _loss_func(loss_mask: torch.Tensor, output_tensor: torch.Tensor):
    """Summed masked token loss, token count, and both for reporting (schedules' 3-tuple form)."""
    mask = loss_mask.float()
    loss = (output_tensor.float() * mask).sum()
    tokens = mask.sum().to(torch.int)
    return loss, tokens, {"lm loss": torch.stack([loss.detach(), mask.sum()])}


def _forward_step(clock, data_iterator, model):
    batch = _to_device(next(data_iterator))
    with clock if clock is not None else contextlib.nullcontext():
        output = model(
            input_ids=batch["tokens"],
            position_ids=batch["position_ids"],
            attention_mask=None,  # causal mask built by the attention layer
            labels=batch["labels"],
        )
    return output, partial(_loss_func, batch["loss_mask"])


def run_schedule(
    chunks: list[torch.nn.Module], micro_batches: list[MicroBatch], forward_only: bool, clock=None
) -> tuple[float, int]:
    """Run the schedule; returns (summed token loss, token count) over the global batch, on every rank."""
    first = micro_batches[0]["tokens"]
    micro_batch_size, seq_length = int(first.shape[0]), int(first.shape[1])
    # Interleaved schedules take one iterator per model chunk; each chunk reads every micro batch.
    iterators = [iter(micro_batches) for _ in chunks]
    reports = get_forward_backward_func()(
        forward_step_func=partial(_forward_step, clock),
        data_iterator=iterators if len(chunks) > 1 else iterators[0],
        model=chunks,
        num_microbatches=len(micro_batches),
        seq_length=seq_length,
        micro_batch_size=micro_batch_size,
        forward_only=forward_only,
    )
    device = torch.cuda.current_device() if torch.cuda.is_available() else "cpu"
    totals = torch.zeros(2, dtype=torch.float64, device=device)
    for report in reports:  # only the last pipeline stage has reports
        totals += report["lm loss"].to(totals)
    dist.all_reduce(totals, group=parallel_state.get_data_parallel_group(with_context_parallel=True))
    dist.broadcast(
        totals,
        src=parallel_state.get_pipeline_model_parallel_last_rank(),
        group=parallel_state.get_pipeline_model_parallel_group(),
    )
    return float(totals[0]), int(totals[1])
