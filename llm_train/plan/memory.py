"""Memory per device for one layout: weights, gradients, optimizer states, activations.

Model states, in bytes per parameter held by a device (P = parameters of its pipeline stage / TP):

megatron-core, bf16 (Megatron-LM docs, distributed optimizer): bf16 weights 2, fp32 gradient
  buffer 4, fp32 master weights + Adam m, v = 12, the 12 divided over dp x cp with the
  distributed optimizer. fp32 training: weights 4, grads 4, Adam 8.
DeepSpeed, bf16 (ZeRO paper, K = 12): bf16 weights 2 (ZeRO-3: 2/N), bf16 grads 2 (ZeRO-2/3: 2/N),
  fp32 master + Adam 12/N (ZeRO >= 1). During the optimizer step DeepSpeed casts the gradient
  partition to fp32 (ZeRO-3: one sub-group of at most `sub_group_size` = 1e9 elements at a
  time), counted as a transient. ZeRO-3 also holds gathered bf16 parameters of the layer being
  computed and of the prefetched one (2 x largest layer). Offloaded states are counted on the CPU.
  fp32 (the CPU demo): weights 4, grads 4, Adam 8, sharded the same way.

The device total adds the activations of the stage with the most in-flight micro batches, the
logits/loss buffers of the last stage, the largest transient, and a fixed GPU runtime reserve.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llm_train.config.model import ModelConfig
from llm_train.model.spec import param_counts
from llm_train.parallel import ParallelLayout
from llm_train.plan.activations import (
    layer_bytes_per_token,
    layer_input_bytes_per_token,
    logits_bytes_per_token,
)
from llm_train.plan.workload import GB, Devices, Workload

# CUDA/ROCm context, NCCL/RCCL communicators and library workspaces: about 1-2 GB per device
# in practice; 2 GB keeps the verdict on the safe side. CPU processes have no such reserve.
GPU_RUNTIME_RESERVE_GB = 2.0
DEEPSPEED_SUB_GROUP_SIZE = 1_000_000_000


@dataclass
class MemoryEstimate:
    weights: float
    grads: float
    optimizer: float
    activations: float
    logits: float
    transient_backward: float  # loss gradients, live only at the start of backward
    transient_step: float  # optimizer-step buffers, live only after activations are freed
    reserve: float
    cpu_offloaded: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def model_states(self) -> float:
        return self.weights + self.grads + self.optimizer

    @property
    def transient(self) -> float:
        """What the short-lived buffers add on top of the rest at the peak."""
        return max(self.transient_backward, self.transient_step - self.activations - self.logits, 0.0)

    @property
    def total(self) -> float:
        backward = self.activations + self.logits + self.transient_backward
        return self.model_states + max(backward, self.transient_step) + self.reserve

    def as_dict(self) -> dict[str, float]:
        keys = ("weights", "grads", "optimizer", "activations", "logits", "transient", "reserve")
        out = {k: getattr(self, k) for k in keys}
        out.update(total=self.total, cpu_offloaded=self.cpu_offloaded)
        return out


def largest_layer_params(m: ModelConfig) -> int:
    """Largest single weight matrix (what ZeRO-3 gathers at once), as DeepSpeed's estimator counts."""
    h = m.hidden_size
    return max(m.padded_vocab_size * h, h * m.ffn_hidden_size, h * h)


def stage_params(m: ModelConfig, pp: int, tp: int) -> tuple[float, float]:
    """Parameters per device on the first and on the last pipeline stage (TP-sharded)."""
    c = param_counts(m)
    layers = c.layers / pp
    embedding = c.embedding
    output = c.output + c.final_norm
    if pp == 1:
        one = (layers + embedding + output) / tp
        return one, one
    # Tied embeddings keep a copy of the embedding on the last stage for the output projection.
    last_out = output + (embedding if m.tie_embeddings else 0)
    return (layers + embedding) / tp, (layers + last_out) / tp


def _megatron_states(w: Workload, layout: ParallelLayout, params: float) -> tuple[float, float, float]:
    shard = layout.dp * layout.cp if layout.distributed_optimizer else 1
    if w.precision == "fp32":
        return 4 * params, 4 * params, 8 * params / shard
    return 2 * params, 4 * params, 12 * params / shard


def _deepspeed_states(
    w: Workload, layout: ParallelLayout, params: float
) -> tuple[float, float, float, float, float]:
    """(weights, grads, optimizer, transient, cpu) bytes for DeepSpeed ZeRO 0-3."""
    z, n = layout.zero_stage, layout.dp
    fp32 = w.precision == "fp32"
    w_b, g_b, o_b = (4, 4, 8) if fp32 else (2, 2, 12)
    weights = params * w_b / (n if z == 3 else 1)
    grads = params * g_b / (n if z >= 2 else 1)
    optimizer = params * o_b / (n if z >= 1 else 1)
    shard = params / (n if z >= 1 else 1)
    transient = 0.0 if fp32 else 4 * (min(shard, DEEPSPEED_SUB_GROUP_SIZE) if z == 3 else shard)
    cpu = 0.0
    if layout.offload_optimizer != "none":
        cpu += optimizer + transient + (grads if z >= 2 else 0)
        optimizer, transient = 0.0, 0.0
        if z >= 2:
            grads = 0.0
    if layout.offload_params != "none":
        cpu += weights
        weights = 0.0
    if z == 3:
        # Gathered for compute; released before the optimizer step, so the step's fp32
        # gradient buffer reuses that room.
        gathered = 2 * largest_layer_params(w.model) * (4 if fp32 else 2)
        weights += gathered
        transient -= gathered
    return weights, grads, optimizer, transient, cpu


def estimate_memory(w: Workload, layout: ParallelLayout, devices: Devices) -> MemoryEstimate:
    m, e = w.model, w.bytes_per_element
    impl = "hf" if w.backend == "deepspeed" else "megatron"
    tokens_mb = layout.micro_batch * w.seq_length / layout.cp
    n_micro = max(1, layout.micro_batches_per_step(w.global_batch))
    per_layer = layer_bytes_per_token(m, impl, e, layout.tp, layout.sp)
    layers_per_stage = m.num_layers / layout.pp
    if layout.recompute == "full":
        keep = layer_input_bytes_per_token(m, e, layout.tp, layout.sp)
        stage_act = tokens_mb * (layers_per_stage * keep + per_layer)
    else:
        stage_act = tokens_mb * layers_per_stage * per_layer
    # 1F1B: the first stage holds min(pp, micro batches) in flight; interleaving adds
    # (pp - 1) / (pp * vpp) more (Narayanan et al. 2021); the last stage holds one.
    in_flight = min(layout.pp, n_micro)
    if layout.vpp and layout.pp > 1:
        in_flight *= 1 + (layout.pp - 1) / (layout.pp * layout.vpp)
    first_act = stage_act * in_flight
    kept, temp = logits_bytes_per_token(m, impl, e, layout.tp)
    logits, transient_bwd = kept * tokens_mb, temp * tokens_mb
    first_p, last_p = stage_params(m, layout.pp, layout.tp)

    if w.backend == "deepspeed":
        weights, grads, optimizer, transient_opt, cpu = _deepspeed_states(w, layout, first_p)
    else:
        weights, grads, optimizer = _megatron_states(w, layout, max(first_p, last_p))
        transient_opt, cpu = 0.0, 0.0
    if layout.pp == 1:
        activations, logits_b = first_act, logits
    else:
        # Take the heavier of the first stage (most micro batches in flight) and the last (logits).
        last = stage_act + logits + transient_bwd
        first = first_act
        activations, logits_b = (first, 0.0) if first >= last else (stage_act, logits)
        if logits_b == 0.0:
            transient_bwd = 0.0
    reserve = GPU_RUNTIME_RESERVE_GB * GB if devices.is_gpu else 0.0
    return MemoryEstimate(
        weights=weights,
        grads=grads,
        optimizer=optimizer,
        activations=activations,
        logits=logits_b,
        transient_backward=transient_bwd,
        transient_step=transient_opt,
        reserve=reserve,
        cpu_offloaded=cpu,
    )
