"""Node burn-in: is every node of an allocation fit to train, and if not, which one and why.

`llm-train doctor --burn-in` runs once per node (one srun task per node). Each node measures:
- a dense GEMM (bf16 on GPUs, fp32 on CPUs) in TFLOP/s, per device;
- host-to-device and device-memory bandwidth in GB/s, per device (device memory only on CPUs);
- NVML temperature, uncorrected ECC errors and clock throttling, where NVML is importable;
- an all-reduce over all nodes (one rank per node), as bus bandwidth in GB/s.
A figure below `cluster.health.min_fraction` of what the profile states (the GEMM: of
peak_bf16_tflops x gemm_efficiency; the all-reduce: of inter_node_bw_gbps), or where the profile states
nothing of the median node, fails that node, with the reason. Rank 0 prints one row per node and, with
a run dir, records the verdict for the job script (`health/decision.env`) and appends the failed nodes
to RUN_DIR/bad_nodes.txt.

Test hook (documented, for the local Slurm tests): LLM_TRAIN_TEST_FAIL_NODES=n2[,n3] makes those
nodes' checks fail with a reason saying so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

import torch

from llm_train import storage
from llm_train.config.cluster import ClusterConfig
from llm_train.run_dir import RunDir
from llm_train.utils.atomic import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)
TEST_FAIL_ENV = "LLM_TRAIN_TEST_FAIL_NODES"


@dataclass
class NodeResult:
    node: str
    figures: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons


def node_name() -> str:
    return os.environ.get("SLURMD_NODENAME") or socket.gethostname()


def _timed(fn, repeat: int) -> float:
    fn()  # warm-up (kernel selection, allocation)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeat


def gemm_tflops(device: torch.device) -> float:
    n, dtype = (8192, torch.bfloat16) if device.type == "cuda" else (768, torch.float32)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    seconds = _timed(lambda: a @ b, repeat=10 if device.type == "cuda" else 3)
    return 2 * n**3 / seconds / 1e12


def memory_gbps(device: torch.device) -> float:
    """Read + write bandwidth of a large on-device copy."""
    numel = (1 << 28) if device.type == "cuda" else (1 << 24)
    src = torch.empty(numel, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    seconds = _timed(lambda: dst.copy_(src), repeat=5)
    return 2 * numel * 4 / seconds / 1e9


def h2d_gbps(device: torch.device) -> float:
    host = torch.empty(1 << 26, dtype=torch.float32).pin_memory()
    dev = torch.empty_like(host, device=device)
    seconds = _timed(lambda: dev.copy_(host, non_blocking=True), repeat=5)
    return host.numel() * 4 / seconds / 1e9


def nvml_status(index: int) -> dict[str, float] | None:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        out = {"temp_c": float(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU))}
        with contextlib.suppress(pynvml.NVMLError):  # ECC off or not supported
            out["ecc_uncorrected"] = float(
                pynvml.nvmlDeviceGetTotalEccErrors(
                    handle, pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, pynvml.NVML_VOLATILE_ECC
                )
            )
        sm, sm_max = (
            pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM),
            pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM),
        )
        out["sm_clock_fraction"] = sm / sm_max if sm_max else 1.0
        return out
    except Exception:  # noqa: BLE001 - NVML missing, no permission: report nothing, never fail
        return None


def local_checks(cluster: ClusterConfig) -> NodeResult:
    """This node's devices, against the profile where it states a figure."""
    h, health = cluster.hardware, cluster.health
    result = NodeResult(node_name())
    devices = [torch.device("cuda", i) for i in range(torch.cuda.device_count())] or [torch.device("cpu")]
    gemms, mems = [], []
    for device in devices:
        gemms.append(gemm_tflops(device))
        mems.append(memory_gbps(device))
        if device.type == "cuda":
            result.figures[f"h2d_gbps_{device.index}"] = round(h2d_gbps(device), 1)
            status = nvml_status(device.index)
            if status:
                result.figures.update({f"{k}_{device.index}": v for k, v in status.items()})
                if status["temp_c"] > health.max_gpu_temp_c:
                    result.reasons.append(f"GPU {device.index} at {status['temp_c']:.0f} C")
                if status.get("ecc_uncorrected", 0) > 0:
                    result.reasons.append(
                        f"GPU {device.index}: {status['ecc_uncorrected']:.0f} uncorrected ECC errors"
                    )
    result.figures["gemm_tflops"] = round(min(gemms), 4)
    result.figures["memory_gbps"] = round(min(mems), 2)
    if devices[0].type == "cuda" and h.peak_bf16_tflops:
        expected = h.peak_bf16_tflops * health.gemm_efficiency * health.min_fraction
        worst = min(range(len(gemms)), key=gemms.__getitem__)
        if gemms[worst] < expected:
            result.reasons.append(
                f"GPU {worst}: GEMM {gemms[worst]:.0f} TFLOP/s < {expected:.0f} expected "
                f"({health.min_fraction:.0%} of {h.peak_bf16_tflops:g} x {health.gemm_efficiency:g})"
            )
    if node_name() in os.environ.get(TEST_FAIL_ENV, "").split(","):
        result.reasons.append(f"failed on purpose by the test hook {TEST_FAIL_ENV}")
    return result


def allreduce_busbw(size_mb: float = 64.0) -> float:
    """Bus bandwidth of an all-reduce over the world (nccl-tests' definition)."""
    world = torch.distributed.get_world_size()
    device = (
        torch.device("cuda", torch.cuda.current_device())
        if torch.cuda.is_available()
        else torch.device("cpu")
    )
    tensor = torch.ones(int(size_mb * 2**20 / 4), dtype=torch.float32, device=device)
    seconds = _timed(lambda: torch.distributed.all_reduce(tensor), repeat=5)
    return tensor.numel() * 4 * 2 * (world - 1) / world / seconds / 1e9


def relative_check(results: list[NodeResult], key: str, fraction: float, what: str) -> None:
    """Where the profile states no figure: a node far below the median node fails."""
    values = [r.figures[key] for r in results if key in r.figures]
    if len(values) < 2:
        return
    median = statistics.median(values)
    for r in results:
        value = r.figures.get(key)
        if value is not None and value < fraction * median:
            r.reasons.append(f"{what} {value:.3g} < {fraction:.0%} of the median node ({median:.3g})")


@dataclass
class Decision:
    action: str  # "train" | "requeue" | "fail"
    exclude: list[str]  # every node the run has excluded so far
    nodes: int  # nodes the requeued job asks for
    reason: str = ""

    def env(self) -> str:
        return (
            f"HEALTH_ACTION={self.action}\nHEALTH_EXCLUDE={','.join(self.exclude)}\n"
            f"HEALTH_NODES={self.nodes}\nHEALTH_REASON={shlex.quote(self.reason)}\n"
            f"HEALTH_REASON_JSON={shlex.quote(json.dumps(self.reason))}\n"
        )


def decide(
    run: RunDir,
    results: list[NodeResult],
    cluster: ClusterConfig,
    job_nodes: int,
    job_id: str,
    fits: Callable[[int], bool] = lambda nodes: True,
) -> Decision:
    """Record failed nodes in bad_nodes.txt; requeue without them within the exclusion budget, on
    fewer nodes when `fits` says the run's layout works there (else the job waits for others)."""
    from llm_train.cli.run_health import read_bad_nodes

    bad = [r for r in results if not r.ok]
    if not bad:
        return Decision("train", [row["node"] for row in read_bad_nodes(run)], job_nodes)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    lines = "".join(f"{r.node}\t{job_id}\t{stamp}\t{'; '.join(r.reasons)}\n" for r in bad)
    old = run.bad_nodes_file.read_text(encoding="utf-8") if run.bad_nodes_file.is_file() else ""
    atomic_write_text(run.bad_nodes_file, old + lines)
    excluded = list(dict.fromkeys(row["node"] for row in read_bad_nodes(run)))
    health = cluster.health
    if len(excluded) > health.max_excluded_nodes:
        return Decision(
            "fail",
            excluded,
            job_nodes,
            f"{len(excluded)} nodes excluded, over cluster.health.max_excluded_nodes",
        )
    nodes = job_nodes - len(bad) if health.shrink and fits(job_nodes - len(bad)) else job_nodes
    if nodes < 1:
        return Decision("fail", excluded, job_nodes, "no healthy node left in the allocation")
    return Decision("requeue", excluded, nodes, "; ".join(f"{r.node}: {', '.join(r.reasons)}" for r in bad))


def run_burn_in(
    cluster: ClusterConfig, run_dir: Path | None, fits: Callable[[int], bool] = lambda nodes: True
) -> tuple[list[NodeResult], Decision | None]:
    """One call per node. Collective when started as several srun tasks (one per node)."""
    from llm_train.launch.dist_env import detect

    dist = detect()
    mine = local_checks(cluster)
    results = [mine]
    if dist.world_size > 1:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(dist.local_rank)
        port = dist.master_port + 1  # the training job's rendezvous port stays free
        torch.distributed.init_process_group(
            backend,
            init_method=f"tcp://{dist.master_addr}:{port}",
            rank=dist.rank,
            world_size=dist.world_size,
            timeout=timedelta(seconds=cluster.health.timeout_s),
        )
        try:
            busbw = allreduce_busbw()
            gathered: list = [None] * dist.world_size
            torch.distributed.all_gather_object(gathered, asdict(mine))
        finally:
            torch.distributed.destroy_process_group()
        results = [NodeResult(**r) for r in gathered]
        for r in results:
            r.figures["allreduce_busbw_gbps"] = round(busbw, 3)
        expected = cluster.hardware.inter_node_bw_gbps
        if expected and busbw < cluster.health.min_fraction * expected:
            for r in results:  # a group figure: every node of the group gets the reason
                r.reasons.append(
                    f"all-reduce {busbw:.1f} GB/s < {cluster.health.min_fraction:.0%} of {expected:g}"
                )
    if not cluster.hardware.peak_bf16_tflops or not torch.cuda.is_available():
        relative_check(results, "gemm_tflops", cluster.health.min_fraction, "GEMM TFLOP/s")
    relative_check(results, "memory_gbps", cluster.health.min_fraction, "memory GB/s")
    decision = None
    if dist.is_main and run_dir is not None:
        run = RunDir(run_dir)
        job = dist.job_id or "local"
        folder = storage.make_dirs(run.path / "health")
        atomic_write_json(
            folder / f"{job}-{os.environ.get('SLURM_RESTART_COUNT', '0')}.json", [asdict(r) for r in results]
        )
        decision = decide(run, results, cluster, dist.num_nodes, job, fits)
        atomic_write_text(folder / "decision.env", decision.env())
    return results, decision
