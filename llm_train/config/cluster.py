"""The cluster section: a site profile (hardware, Slurm, software environment).

Profiles live in configs/cluster/<name>.yaml and are selected with `--cluster NAME`, so the
science (model, data, schedule) stays the same across sites.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt

from llm_train.config.base import Section


class HardwareConfig(Section):
    accelerator: Literal["cpu", "nvidia", "amd"] = "cpu"
    gpu_name: str | None = None
    # Devices per node as the launcher sees them (LUMI-G: 8 GCDs on 4 MI250X).
    gpus_per_node: NonNegativeInt = 0
    gpu_memory_gb: PositiveFloat | None = None
    # Dense bf16 peak per device, the MFU denominator.
    peak_bf16_tflops: PositiveFloat | None = None
    # Best matmul-bound share of that peak a well-tuned dense decoder reaches before communication
    # (`llm-train plan`'s compute term); unset means the A100-calibrated 0.60.
    max_compute_efficiency: float | None = Field(None, gt=0, le=1)
    gpu_power_w: PositiveFloat | None = None
    # Everything in a node that is not a GPU (CPUs, memory, NICs), for energy estimates.
    node_base_power_w: PositiveFloat | None = None
    cpus_per_node: PositiveInt = 2
    mem_per_node_gb: PositiveFloat = 16
    # Unidirectional bandwidth per device, GB/s.
    intra_node_bw_gbps: PositiveFloat | None = None
    inter_node_bw_gbps: PositiveFloat | None = None


class PartitionConfig(Section):
    max_time: str = "INFINITE"
    max_nodes: PositiveInt | None = None
    gpus_per_node: NonNegativeInt | None = None


class SlurmConfig(Section):
    partitions: dict[str, PartitionConfig] = Field(default_factory=dict)
    default_partition: str | None = None
    # Environment variable holding the compute project/account (e.g. $BUDGET_ACCOUNTS).
    account_env: str | None = None
    account: str | None = None
    account_required: bool = False
    qos: str | None = None
    reservation: str | None = None
    # How a GPU request is written: "{n}" is replaced by GPUs per node (e.g. "gpu:{n}").
    gres: str | None = None
    gpus_per_task_flag: bool = False
    cpus_per_task: PositiveInt | None = None
    mem: str | None = None
    constraint: str | None = None
    exclusive: bool = False
    extra_sbatch: list[str] = Field(default_factory=list)
    # Seconds before the wall-time limit at which Slurm sends USR1 so the trainer checkpoints.
    signal_lead_s: PositiveInt = 300
    requeue: bool = True
    max_requeues: NonNegativeInt = 20


class ContainerConfig(Section):
    runtime: Literal["none", "apptainer", "singularity", "enroot"] = "none"
    image: str | None = None
    flags: list[str] = Field(default_factory=list)
    binds: list[str] = Field(default_factory=list)


class SoftwareConfig(Section):
    modules: list[str] = Field(default_factory=list)
    # Shell lines run before the launch (venv activation, exports the profile cannot express).
    setup: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    container: ContainerConfig = ContainerConfig()


class EnergyConfig(Section):
    pue: PositiveFloat = 1.2
    grid_g_co2_per_kwh: float = Field(300.0, ge=0)


class HealthConfig(Section):
    """Node health gating (`llm-train doctor --burn-in`, and before training with `preflight`)."""

    # Run the burn-in on every node of a train job before training; bad nodes are excluded and the
    # job requeues itself without them.
    preflight: bool = False
    # Nodes a run may exclude in all (RUN_DIR/bad_nodes.txt); past it the job fails instead.
    max_excluded_nodes: NonNegativeInt = 2
    # Requeue on fewer nodes when the layout fits them (parallel.dp=auto); else wait for others.
    shrink: bool = True
    # A node whose GEMM, bandwidth or all-reduce figure is below this share of what the profile
    # states (or, where it states nothing, of the median node) fails.
    min_fraction: float = Field(0.6, gt=0, le=1)
    # The dense GEMM reaches at most this share of the data-sheet peak on a healthy device.
    gemm_efficiency: float = Field(0.7, gt=0, le=1)
    max_gpu_temp_c: PositiveFloat = 87.0
    # Burn-in on CPU-only nodes (no GPU to test) only when allowed: the local test cluster.
    allow_cpu: bool = False
    timeout_s: PositiveInt = 300


class ClusterConfig(Section):
    name: str = "local"
    description: str = ""
    # Regexes matched against the login/compute hostname for auto-detection.
    hostname_patterns: list[str] = Field(default_factory=list)
    scheduler: Literal["local", "slurm"] = "local"
    nodes: PositiveInt = 1
    hardware: HardwareConfig = HardwareConfig()
    slurm: SlurmConfig = SlurmConfig()
    software: SoftwareConfig = SoftwareConfig()
    energy: EnergyConfig = EnergyConfig()
    health: HealthConfig = HealthConfig()
    # How ranks find each other: first host of the allocation, or torchrun's c10d rendezvous.
    rendezvous: Literal["slurm-first-host", "c10d"] = "slurm-first-host"
