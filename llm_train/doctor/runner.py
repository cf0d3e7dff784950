"""Run every check for a cluster profile (and optionally an experiment) and render the result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from llm_train.config.cluster import ClusterConfig
from llm_train.config.schema import ExperimentConfig
from llm_train.doctor import checks
from llm_train.doctor.checks import Check, Status
from llm_train.model.spec import param_counts

DEFAULT_FREE_GB = 20.0


@dataclass
class DoctorContext:
    cluster: ClusterConfig
    experiment: ExperimentConfig | None = None
    run_dir: Path = Path("runs")
    collective: bool = True
    data: tuple[Path, ...] = ()  # corpora / packed data whose permissions are checked


def _checkpoint_gb(cfg: ExperimentConfig | None) -> float:
    """Room for the kept checkpoints: weights + Adam states are 16 bytes per parameter (12 in fp32)."""
    if cfg is None:
        return DEFAULT_FREE_GB
    per = 12 if cfg.train.precision == "fp32" else 16
    return param_counts(cfg.model).total * per * (cfg.checkpoint.keep_last + 1) / 1e9


def _data_dirs(ctx: DoctorContext) -> list[Path]:
    paths = list(ctx.data)
    if ctx.experiment is not None:
        d = ctx.experiment.data
        paths += [Path(p) for p in (d.valid_corpus, d.tokenizer) if p]
        if d.mixture:
            paths.append(Path(d.mixture).parent)
    return list(dict.fromkeys(paths))


def run_checks(ctx: DoctorContext) -> list[Check]:
    cfg = ctx.experiment
    hw = ctx.cluster.hardware
    out: list[Check] = [checks.python_version()]
    out += checks.torch_stack()
    out.append(checks.gpus_visible(hw.gpus_per_node if hw.accelerator != "cpu" else 0))
    backend = cfg.parallel.backend if cfg else None
    out.append(
        checks.importable(
            "megatron.core", backend == "megatron", "pip install 'megatron-core<0.17'", "megatron-core"
        )
    )
    out.append(checks.importable("deepspeed", backend == "deepspeed", "pip install deepspeed"))
    aim_wanted = cfg is None or cfg.tracking.aim
    out.append(checks.importable("aim", False, "pip install 'aim<4' (metrics.jsonl is written regardless)"))
    out += checks.offline_caches(cfg.data.tokenizer if cfg else None)
    out += checks.run_dir(ctx.run_dir, _checkpoint_gb(cfg))
    out.append(checks.not_world_readable(ctx.run_dir, "run dir"))
    for data in _data_dirs(ctx):
        out.append(checks.not_world_readable(data, "data"))
    out.append(checks.slurm_commands(required=ctx.cluster.scheduler == "slurm"))
    if aim_wanted:
        out.append(checks.aim_server(cfg.tracking.aim_repo if cfg else None))
    if ctx.collective:
        from llm_train.doctor.collective import collective_smoke_test

        out.append(collective_smoke_test())
    return out


def render(results: list[Check], title: str, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=title, title_justify="left")
    for col in ("check", "status", "detail", "fix"):
        table.add_column(col)
    style = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "red"}
    for c in results:
        table.add_row(c.name, f"[{style[c.status]}]{c.status.value}[/]", c.detail, c.hint)
    console.print(table)
    counts = {s: sum(c.status == s for c in results) for s in Status}
    console.print(f"{counts[Status.PASS]} pass, {counts[Status.WARN]} warn, {counts[Status.FAIL]} fail")
