"""Step time of one layout: compute at an MFU curve, plus communication and the pipeline bubble.

The model (every term per optimizer step, per device):

compute  = hardware FLOPs / (peak x efficiency). Hardware FLOPs are model FLOPs (6N + attention,
           `model.spec.flops_per_token`) plus recomputation: full recompute repeats each layer's
           forward (+1/3 of the layer FLOPs), selective repeats the attention core (4 l h s).
           efficiency = MAX_COMPUTE_EFFICIENCY x sat(h / tp, 64) x sat(tokens per micro batch, 128),
           sat(x, x0) = x / (x + x0): small matmuls run further from peak. 0.60 is about the
           best end-to-end MFU reported for dense decoders before communication costs
           (Megatron-LM on A100: 56% MFU with communication, Korthikanti et al. 2022, Table 5).
           Newer parts reach less of their larger peak: a cluster profile sets its own
           `hardware.max_compute_efficiency` (H100 / GH200 0.50, MI250X 0.40 in the presets).
tp       = per layer and micro batch 4 all-reduces of b s h bf16 (2 forward, 2 backward; +2
           with full recompute); ring all-reduce moves 2 (t-1)/t of the message. Not overlapped.
cp       = ring attention passes K and V around the cp ranks (forward) and K, V, dK, dV
           (backward). Counted as not overlapped, which is conservative.
pp       = activations (b s h / tp with SP) sent forward and gradients back at each stage
           boundary, vpp times per micro batch with interleaving.
bubble   = (pp - 1) / (vpp x micro batches) x compute (1F1B; Narayanan et al. 2021).
dp       = gradient reduce-scatter / all-reduce and parameter all-gather over the DP group's
           bandwidth (inter-node when the group spans nodes). Megatron overlaps it with the
           backward of the last micro batch; DeepSpeed ZeRO-3 gathers parameters for every micro
           batch, overlapped with that micro batch's compute.
offload  = optimizer step on the CPU: shard traffic over PCIe plus CPU Adam throughput.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_train.config.model import ModelConfig
from llm_train.model.spec import flops_per_token, param_counts
from llm_train.parallel import ParallelLayout
from llm_train.plan.workload import GB, Devices, Workload

MAX_COMPUTE_EFFICIENCY = 0.60
PCIE_GBPS = 25.0  # host <-> device per GPU (PCIe 4 x16 practical)
CPU_ADAM_PARAMS_PER_S = 1e9  # DeepSpeedCPUAdam per GPU share of a node's cores
# Profiles state link bandwidths; NCCL/RCCL collectives reach about 80% of them (bus bandwidth).
COLLECTIVE_EFFICIENCY = 0.8


@dataclass
class StepTime:
    compute: float
    bubble: float
    tp_comm: float
    cp_comm: float
    pp_comm: float
    dp_comm: float
    offload: float
    model_flops: float  # per step, all devices

    @property
    def total(self) -> float:
        return (
            self.compute
            + self.bubble
            + self.tp_comm
            + self.cp_comm
            + self.pp_comm
            + self.dp_comm
            + self.offload
        )

    def mfu(self, devices: int, peak_tflops: float) -> float:
        return self.model_flops / (self.total * devices * peak_tflops * 1e12)

    def as_dict(self) -> dict[str, float]:
        keys = ("compute", "bubble", "tp_comm", "cp_comm", "pp_comm", "dp_comm", "offload")
        return {k: getattr(self, k) for k in keys} | {"total": self.total}


def hardware_flops_per_token(m: ModelConfig, seq_length: int, recompute: str) -> float:
    """FLOPs actually executed per token, including recomputation."""
    model = flops_per_token(m, seq_length)
    if recompute == "full":
        layers = 6 * param_counts(m).layers + 12 * m.num_layers * m.hidden_size * seq_length
        return model + layers / 3
    if recompute == "selective":
        return model + 4 * m.num_layers * m.hidden_size * seq_length
    return model


def compute_efficiency(
    m: ModelConfig, layout: ParallelLayout, seq_length: int, max_efficiency: float | None = None
) -> float:
    width = m.hidden_size / layout.tp
    tokens = layout.micro_batch * seq_length / layout.cp
    best = max_efficiency or MAX_COMPUTE_EFFICIENCY
    return best * width / (width + 64) * tokens / (tokens + 128)


def _allreduce(bytes_: float, n: int, bw_gbps: float) -> float:
    return 0.0 if n <= 1 else 2 * (n - 1) / n * bytes_ / (bw_gbps * GB)


def _gather(bytes_: float, n: int, bw_gbps: float) -> float:
    """All-gather or reduce-scatter of a buffer of `bytes_` in total."""
    return 0.0 if n <= 1 else (n - 1) / n * bytes_ / (bw_gbps * GB)


def _bandwidths(devices: Devices, layout: ParallelLayout) -> tuple[float, float, float]:
    """(tp, pp, dp) bandwidths: intra-node while the group fits in a node (ranks are tp-major)."""
    intra = (devices.intra_bw_gbps or devices.inter_bw_gbps or 1.0) * COLLECTIVE_EFFICIENCY
    inter = (devices.inter_bw_gbps or intra) * COLLECTIVE_EFFICIENCY
    node = devices.per_node
    tp_bw = intra if layout.tp * layout.cp <= node else inter
    pp_bw = intra if layout.tp * layout.cp * layout.pp <= node else inter
    dp_bw = intra if layout.world_size <= node else inter
    return tp_bw, pp_bw, dp_bw


def estimate_step_time(w: Workload, layout: ParallelLayout, devices: Devices, peak_tflops: float) -> StepTime:
    m, s = w.model, w.seq_length
    e = w.bytes_per_element
    n_micro = max(1, layout.micro_batches_per_step(w.global_batch))
    model_flops = w.tokens_per_step * flops_per_token(m, s)
    hw_flops = w.tokens_per_step * hardware_flops_per_token(m, s, layout.recompute)
    rate = peak_tflops * 1e12 * compute_efficiency(m, layout, s, devices.max_compute_efficiency)
    compute = hw_flops / layout.world_size / rate
    per_micro = compute / n_micro
    tp_bw, pp_bw, dp_bw = _bandwidths(devices, layout)

    tokens_mb = layout.micro_batch * s / layout.cp
    layers = m.num_layers / layout.pp
    act_msg = tokens_mb * m.hidden_size * e
    n_ar = 6 if layout.recompute == "full" else 4
    tp_comm = n_micro * layers * n_ar * _allreduce(act_msg, layout.tp, tp_bw)

    kv_msg = tokens_mb * m.kv_heads * m.head_dim * e * 2 / layout.tp
    cp_comm = n_micro * layers * 3 * (layout.cp - 1) * kv_msg / (tp_bw * GB) if layout.cp > 1 else 0.0

    vpp = layout.vpp or 1
    pp_msg = act_msg / (layout.tp if layout.sp else 1)
    pp_comm = n_micro * vpp * 2 * pp_msg / (pp_bw * GB) if layout.pp > 1 else 0.0
    bubble = (layout.pp - 1) / (vpp * n_micro) * compute

    params = param_counts(m).total / (layout.tp * layout.pp)
    dp_comm, offload = _data_parallel(w, layout, params, dp_bw, per_micro, n_micro)
    return StepTime(compute, bubble, tp_comm, cp_comm, pp_comm, dp_comm, offload, model_flops)


def _data_parallel(
    w: Workload, layout: ParallelLayout, params: float, bw: float, per_micro: float, n_micro: int
) -> tuple[float, float]:
    """(exposed DP communication, CPU-offload time) per step."""
    n = layout.dp * (layout.cp if w.backend == "megatron" else 1)
    e = w.bytes_per_element
    backward_window = per_micro * 2 / 3  # backward is 2/3 of a micro batch's FLOPs
    if w.backend == "megatron":
        grad_bytes = 4 * params  # fp32 gradient buffer
        if layout.distributed_optimizer:
            comm = _gather(grad_bytes, n, bw) + _gather(e * params, n, bw)
        else:
            comm = _allreduce(grad_bytes, n, bw)
        return max(0.0, comm - backward_window), 0.0
    z = layout.zero_stage
    if z == 3:
        # Gather for forward and for backward, reduce-scatter gradients, every micro batch.
        per_mb = 3 * _gather(e * params, n, bw)
        dp = n_micro * max(0.0, per_mb - per_micro)
    elif z == 2:
        dp = n_micro * max(0.0, _gather(e * params, n, bw) - backward_window) + _gather(e * params, n, bw)
    else:
        dp = max(0.0, _allreduce(e * params, n, bw) - backward_window)
        if z == 1:
            dp += _gather(e * params, n, bw)
    offload = 0.0
    if layout.offload_optimizer != "none":
        shard = params / n if z >= 1 else params
        offload = shard * (4 + e) / (PCIE_GBPS * GB) + shard / CPU_ADAM_PARAMS_PER_S
    return dp, offload
