"""`make_plan`: estimates for the configured layout, a ranked layout search, and the cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from llm_train.config.compose import read_yaml
from llm_train.config.model import ModelConfig
from llm_train.config.schema import ExperimentConfig
from llm_train.model.spec import flops_per_token, param_counts
from llm_train.parallel import ParallelLayout, Runtime, config_problems
from llm_train.plan.cost import DEFAULT_GOODPUT, Cost, estimate_cost
from llm_train.plan.layout import enumerate_layouts
from llm_train.plan.memory import MemoryEstimate, estimate_memory
from llm_train.plan.timing import StepTime, estimate_step_time
from llm_train.plan.workload import GB, Devices, Workload, devices_from_config, workload_from_config

# Nominal peak used only to rank layouts when the profile states none (CPU-only machines).
_RANKING_PEAK_TFLOPS = 1.0
_MAX_GPUS_TRIED = 65536


@dataclass
class PlanOptions:
    gpus: int | None = None
    nodes: int | None = None
    mfu: float | None = None  # use this end-to-end MFU instead of the step-time model
    goodput: float = DEFAULT_GOODPUT
    budget_gpu_hours: float | None = None
    pue: float | None = None
    grid_g_co2_per_kwh: float | None = None
    top: int = 5
    allow_offload: bool = True
    search: bool = True


@dataclass
class Candidate:
    layout: ParallelLayout
    memory: MemoryEstimate
    step: StepTime

    def fits(self, devices: Devices) -> bool:
        return self.memory.total <= devices.memory_gb * GB


@dataclass
class Plan:
    workload: Workload
    devices: Devices
    options: PlanOptions
    params: int
    non_embedding_params: int
    flops_per_token: float
    configured: Candidate | None
    configured_problem: str | None
    ranked: list[Candidate] = field(default_factory=list)
    searched: int = 0
    cost: Cost | None = None
    mfu: float | None = None
    step_seconds: float | None = None
    timing_known: bool = True
    suggestions: list[str] = field(default_factory=list)

    @property
    def best(self) -> Candidate | None:
        return self.ranked[0] if self.ranked else None

    @property
    def chosen(self) -> Candidate | None:
        """What the cost is computed for: the best layout found, else the configured one."""
        if self.best is not None:
            return self.best
        if (
            self.configured is not None
            and self.configured_problem is None
            and self.configured.fits(self.devices)
        ):
            return self.configured
        return None


def evaluate(w: Workload, layout: ParallelLayout, devices: Devices, peak: float) -> Candidate:
    return Candidate(
        layout, estimate_memory(w, layout, devices), estimate_step_time(w, layout, devices, peak)
    )


def search_layouts(
    w: Workload, devices: Devices, peak: float, allow_offload: bool = True, runtime: Runtime = Runtime()
) -> tuple[list[Candidate], int]:
    """All valid layouts that fit, fastest first (ties: less memory); and how many were tried."""
    fitting, tried = [], 0
    for layout in enumerate_layouts(w, devices.count, devices.per_node, allow_offload, runtime):
        tried += 1
        cand = evaluate(w, layout, devices, peak)
        if cand.fits(devices):
            fitting.append(cand)
    fitting.sort(key=lambda c: (round(c.step.total, 9), c.memory.total))
    return fitting, tried


def make_plan(cfg: ExperimentConfig, opts: PlanOptions | None = None) -> Plan:
    opts = opts or PlanOptions()
    w = workload_from_config(cfg)
    devices = devices_from_config(cfg, gpus=opts.gpus, nodes=opts.nodes)
    counts = param_counts(w.model)
    timing_known = devices.peak_tflops is not None
    peak = devices.peak_tflops or _RANKING_PEAK_TFLOPS
    plan = Plan(
        workload=w,
        devices=devices,
        options=opts,
        params=counts.total,
        non_embedding_params=counts.non_embedding,
        flops_per_token=flops_per_token(w.model, w.seq_length),
        configured=None,
        configured_problem=None,
        timing_known=timing_known,
    )
    runtime = Runtime.for_cluster(cfg.cluster)
    configured = ParallelLayout.from_config(cfg, devices.count)
    problems = config_problems(cfg, devices.count, runtime, "the allocation's devices")
    if problems:
        plan.configured_problem = "; ".join(
            f"{key}: expected {want} (got {got!r})" for key, got, want in problems
        )
    if configured.dp is None:  # the allocation does not divide: estimate with what would fit on it
        configured = configured.with_dp(max(1, devices.count // configured.model_parallel_size))
    plan.configured = evaluate(w, configured, devices, peak)
    if opts.search:
        plan.ranked, plan.searched = search_layouts(w, devices, peak, opts.allow_offload, runtime)
    chosen = plan.chosen
    if chosen is not None:
        _fill_cost(plan, cfg, chosen, peak)
    if not plan.ranked and (plan.configured is None or not plan.configured.fits(devices)):
        plan.suggestions = suggest(cfg, w, devices, peak, opts)
    return plan


def _fill_cost(plan: Plan, cfg: ExperimentConfig, chosen: Candidate, peak: float) -> None:
    w, devices, opts = plan.workload, plan.devices, plan.options
    if opts.mfu is not None:
        plan.mfu = opts.mfu
        plan.step_seconds = (
            w.tokens_per_step * plan.flops_per_token / (devices.count * peak * 1e12 * opts.mfu)
        )
    elif plan.timing_known:
        plan.step_seconds = chosen.step.total
        plan.mfu = chosen.step.mfu(devices.count, peak)
    else:
        return
    energy = cfg.cluster.energy
    plan.cost = estimate_cost(
        train_seconds=plan.step_seconds * w.steps,
        gpus=devices.count,
        gpus_per_node=devices.per_node,
        gpu_power_w=devices.gpu_power_w,
        node_base_power_w=devices.node_base_power_w,
        pue=opts.pue or energy.pue,
        grid_g_co2_per_kwh=energy.grid_g_co2_per_kwh
        if opts.grid_g_co2_per_kwh is None
        else opts.grid_g_co2_per_kwh,
        goodput=opts.goodput,
        budget_gpu_hours=opts.budget_gpu_hours,
    )


def minimum_devices(w: Workload, devices: Devices, peak: float, allow_offload: bool = True) -> int | None:
    """Fewest devices of this kind (powers of two) on which some layout fits."""
    n = devices.count * 2
    while n <= _MAX_GPUS_TRIED:
        trial = Devices(**{**devices.__dict__, "count": n, "per_node": min(devices.per_node, n) or n})
        if search_layouts(w, trial, peak, allow_offload)[0]:
            return n
        n *= 2
    return None


def suggest(
    cfg: ExperimentConfig, w: Workload, devices: Devices, peak: float, opts: PlanOptions
) -> list[str]:
    """Why nothing fits and what would: more devices, or a smaller model on these."""
    out = []
    c = param_counts(w.model)
    states = 16 * c.total / GB
    out.append(
        f"{w.model.name}: {c.total / 1e9:.1f}B parameters need about {states:,.0f} GB for weights, gradients "
        f"and Adam states alone (16 bytes/parameter before sharding); one {devices.name} has "
        f"{devices.memory_gb:g} GB."
    )
    need = minimum_devices(w, devices, peak, opts.allow_offload)
    if need:
        nodes = -(-need // max(1, devices.per_node))
        out.append(
            f"It fits on {need} such devices ({nodes} node(s)) with the best layout `llm-train plan` finds there."
        )
    fitting_models = [name for name, m in _presets() if _fits_model(m, w, devices, peak, opts.allow_offload)]
    if fitting_models:
        out.append(
            f"Model presets that fit on {devices.count} device(s): {', '.join(fitting_models)} (model=<name>)."
        )
    return out


def _presets() -> list[tuple[str, ModelConfig]]:
    root = Path(__file__).resolve().parents[2] / "configs" / "model"
    presets = []
    for path in sorted(root.glob("*.yaml")):
        try:
            presets.append((path.stem, ModelConfig(**read_yaml(path))))
        except Exception:  # noqa: BLE001 - a broken preset must not break the plan
            continue
    presets.sort(key=lambda item: param_counts(item[1]).total)
    return presets


def _fits_model(m: ModelConfig, w: Workload, devices: Devices, peak: float, allow_offload: bool) -> bool:
    seq = min(w.seq_length, m.max_seq_len)
    trial = Workload(m, seq, w.global_batch, w.tokens, w.precision, w.backend)
    return bool(search_layouts(trial, devices, peak, allow_offload)[0])
