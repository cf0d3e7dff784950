"""What is being planned: the model, the batch, the token budget and the devices it runs on.

A `Workload` and a `Devices` are read once from an `ExperimentConfig`, so the memory, time and
cost models below take plain numbers and can be driven directly by tests (published runs).
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_train.config.cluster import HardwareConfig
from llm_train.config.model import ModelConfig
from llm_train.config.schema import ExperimentConfig

GB = 1e9
GIB = 2**30


@dataclass(frozen=True)
class Workload:
    model: ModelConfig
    seq_length: int
    global_batch: int  # sequences per optimizer step
    tokens: int  # total training tokens
    precision: str = "bf16"
    backend: str = "megatron"

    @property
    def bytes_per_element(self) -> int:
        return 4 if self.precision == "fp32" else 2

    @property
    def tokens_per_step(self) -> int:
        return self.global_batch * self.seq_length

    @property
    def steps(self) -> int:
        return -(-self.tokens // self.tokens_per_step)


@dataclass(frozen=True)
class Devices:
    """The accelerators (or, on a CPU-only machine, the training processes) of one allocation."""

    count: int
    per_node: int
    memory_gb: float  # per device, decimal GB as vendors state it
    peak_tflops: float | None  # dense bf16 (fp32 on CPU) per device
    intra_bw_gbps: float | None  # per device, unidirectional, GB/s
    inter_bw_gbps: float | None
    gpu_power_w: float | None = None
    node_base_power_w: float | None = None
    name: str = "gpu"
    is_gpu: bool = True
    max_compute_efficiency: float | None = None  # None: timing.MAX_COMPUTE_EFFICIENCY

    @property
    def nodes(self) -> int:
        return -(-self.count // self.per_node)


def workload_from_config(cfg: ExperimentConfig) -> Workload:
    t = cfg.train
    tokens = t.tokens if t.tokens is not None else (t.steps or 0) * t.global_batch_size * t.seq_length
    return Workload(
        model=cfg.model,
        seq_length=t.seq_length,
        global_batch=t.global_batch_size,
        tokens=tokens,
        precision=t.precision,
        backend=cfg.parallel.backend,
    )


def devices_from_config(cfg: ExperimentConfig, gpus: int | None = None, nodes: int | None = None) -> Devices:
    """Devices of the allocation: `gpus` > `nodes` x gpus_per_node > the profile's nodes."""
    hw: HardwareConfig = cfg.cluster.hardware
    if hw.accelerator == "cpu" or not hw.gpus_per_node:
        # CPU-only: each training process is one "device" sharing the node's memory.
        procs = gpus or (cfg.parallel.world_size() or 1)
        return Devices(
            count=procs,
            per_node=procs,
            memory_gb=hw.mem_per_node_gb / procs,
            peak_tflops=cfg.train.peak_tflops,
            intra_bw_gbps=hw.intra_node_bw_gbps,
            inter_bw_gbps=hw.inter_node_bw_gbps,
            gpu_power_w=None,
            node_base_power_w=hw.node_base_power_w,
            max_compute_efficiency=hw.max_compute_efficiency,
            name="cpu process",
            is_gpu=False,
        )
    count = gpus or (nodes or cfg.cluster.nodes) * hw.gpus_per_node
    return Devices(
        count=count,
        per_node=hw.gpus_per_node,
        memory_gb=hw.gpu_memory_gb or 0.0,
        peak_tflops=cfg.train.peak_tflops or hw.peak_bf16_tflops,
        intra_bw_gbps=hw.intra_node_bw_gbps,
        inter_bw_gbps=hw.inter_node_bw_gbps,
        gpu_power_w=hw.gpu_power_w,
        node_base_power_w=hw.node_base_power_w,
        max_compute_efficiency=hw.max_compute_efficiency,
        name=hw.gpu_name or hw.accelerator,
        is_gpu=True,
    )
