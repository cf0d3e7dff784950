"""From a resolved experiment config + the user's flags to a validated `Job`.

Everything that can be known before submission is checked here, so bad input fails with the
reason and nothing reaches sbatch: a profile without Slurm, an unknown partition, a missing
account, a time limit above the partition's maximum, more GPUs or nodes than the partition has,
a rank count that does not fit the parallel layout, extra options that fight the renderer.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from llm_train.config.cluster import ClusterConfig
from llm_train.config.loader import ResolvedConfig
from llm_train.config.overrides import source_of
from llm_train.errors import ConfigError, ConfigProblem
from llm_train.parallel import Runtime, config_problems, ranks_per_node
from llm_train.slurm.job import KINDS, Container, Job, Resources, Software
from llm_train.slurm.timefmt import format_time, parse_time

DEFAULT_TIME = "01:00:00"
# Options the renderer writes itself; an extra line with one of them would silently fight it.
RESERVED = (
    "--job-name", "--nodes", "--ntasks-per-node", "--cpus-per-task", "--gres", "--gpus-per-node",
    "--mem", "--time", "--partition", "--account", "--qos", "--reservation", "--constraint", "--array",
    "--mail-type", "--mail-user", "--exclusive", "--output", "--error", "--open-mode", "--chdir",
    "--signal", "--requeue", "--no-requeue", "--dependency",
)  # fmt: skip
_OPTION = re.compile(r"^--[a-z][a-z0-9-]*(=\S.*)?$")
# Offline caches on compute nodes (no internet there); a profile may set other values.
DEFAULT_ENV = (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"))
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_./:,@%+=-]*$")


@dataclass(frozen=True)
class SubmitOptions:
    """The user's flags; None means "from the profile"."""

    account: str | None = None
    partition: str | None = None
    qos: str | None = None
    reservation: str | None = None
    time: str | None = None
    nodes: int | None = None
    gpus_per_node: int | None = None
    cpus_per_task: int | None = None
    mem: str | None = None
    constraint: str | None = None
    exclusive: bool | None = None
    mail_type: str | None = None
    mail_user: str | None = None
    sbatch: tuple[str, ...] = ()
    array: str | None = None
    job_name: str | None = None
    no_requeue: bool = False
    # >1: a chain of this many afterany jobs instead of scontrol requeue (sites that forbid requeue).
    segments: int = 1
    extra_notes: tuple[str, ...] = field(default=())


def problem(key: str, message: str, value: object = ..., file: str | None = None) -> ConfigError:
    return ConfigError([ConfigProblem(file, key, message, value)])


def slurm_profile(resolved: ResolvedConfig) -> ClusterConfig:
    cluster = resolved.config.cluster
    if cluster.scheduler != "slurm":
        raise problem(
            "cluster.scheduler",
            f"profile {cluster.name!r} has no Slurm; pass --cluster with a Slurm profile "
            "(e.g. local-slurm or a site in configs/cluster/)",
            cluster.scheduler,
            source_of(resolved.provenance, "cluster.scheduler"),
        )
    return cluster


def build_job(
    resolved: ResolvedConfig,
    kind: str,
    command: list[str] | tuple[str, ...],
    run_dir: Path,
    opts: SubmitOptions = SubmitOptions(),
    workdir: Path | None = None,
) -> Job:
    if kind not in KINDS:
        raise problem("--kind", f"expected one of {', '.join(KINDS)}", kind)
    cluster = slurm_profile(resolved)
    prov = resolved.provenance
    s = cluster.slurm

    partition = opts.partition or s.default_partition
    part = None
    if partition and s.partitions:
        part = s.partitions.get(partition)
        if part is None:
            raise problem(
                "--partition",
                f"no partition {partition!r} in profile {cluster.name!r}; known: {', '.join(s.partitions)}",
                partition,
                source_of(prov, "cluster.slurm.partitions"),
            )

    time = opts.time or (part.max_time if part and parse_time(part.max_time) else DEFAULT_TIME)
    try:
        seconds = parse_time(time)
    except ValueError as exc:
        raise problem("--time", str(exc), time) from None
    if seconds is None or seconds <= 0:
        raise problem("--time", "expected a finite, positive time limit", time)
    if part is not None:
        limit = parse_time(part.max_time)
        if limit is not None and seconds > limit:
            raise problem(
                "--time",
                f"{format_time(seconds)} is above the maximum of partition {partition!r} ({part.max_time})",
                time,
                source_of(prov, f"cluster.slurm.partitions.{partition}.max_time"),
            )

    account = opts.account or s.account or (os.environ.get(s.account_env) if s.account_env else None)
    if s.account_required and not account:
        where = f" or export {s.account_env}" if s.account_env else ""
        raise problem(
            "--account", f"profile {cluster.name!r} requires a compute account: pass --account{where}"
        )

    gpus_available = part.gpus_per_node if part and part.gpus_per_node is not None else None
    if gpus_available is None:
        gpus_available = cluster.hardware.gpus_per_node
    if kind == "train":
        gpus = gpus_available if opts.gpus_per_node is None else opts.gpus_per_node
        nodes = opts.nodes or cluster.nodes
    else:
        gpus = min(1, gpus_available) if opts.gpus_per_node is None else opts.gpus_per_node
        gpus = gpus if kind == "eval" or opts.gpus_per_node is not None else 0
        nodes = opts.nodes or 1
    if gpus > gpus_available:
        raise problem(
            "--gpus-per-node",
            f"{gpus} GPUs per node, but {f'partition {partition!r}' if part else f'profile {cluster.name!r}'} "
            f"has {gpus_available}",
            gpus,
        )
    if part and part.max_nodes and nodes > part.max_nodes:
        raise problem("--nodes", f"partition {partition!r} allows at most {part.max_nodes} nodes", nodes)

    tasks_per_node = ranks_per_node(gpus) if kind == "train" else 1
    cpus = opts.cpus_per_task or s.cpus_per_task
    if cpus is None and kind == "train":
        cpus = max(1, cluster.hardware.cpus_per_node // tasks_per_node)
    if kind == "train":
        _check_world_size(resolved, nodes * tasks_per_node, nodes, tasks_per_node)

    extra = [*s.extra_sbatch, *opts.sbatch]
    for option in extra:
        name = option.split("=")[0]
        if not _OPTION.match(option) or name in RESERVED:
            raise problem(
                "--sbatch",
                "expected '--option[=value]' that the script does not already set "
                f"(set {name} with its own flag or profile key)"
                if name in RESERVED
                else "expected '--option[=value]'",
                option,
                source_of(prov, "cluster.slurm.extra_sbatch") if option in s.extra_sbatch else None,
            )

    c = cluster.software.container
    if c.runtime != "none" and not c.image:
        raise problem(
            "cluster.software.container.image",
            f"container runtime {c.runtime!r} needs an image",
            None,
            source_of(prov, "cluster.software.container"),
        )

    requeue_mode = "none"
    if kind == "train":
        if opts.segments > 1:
            requeue_mode = "chain"
        elif s.requeue and not opts.no_requeue:
            requeue_mode = "self"
        if s.signal_lead_s and seconds <= s.signal_lead_s:
            raise problem(
                "--time",
                f"must be longer than the profile's signal lead ({s.signal_lead_s} s), "
                "or the job is signalled before it starts working",
                time,
            )

    env = dict(DEFAULT_ENV)
    if cpus:
        env["OMP_NUM_THREADS"] = str(cpus)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(cluster.software.env)
    resources = Resources(
        time=time,
        nodes=nodes,
        ntasks_per_node=tasks_per_node,
        gpus_per_node=gpus,
        gres=s.gres,
        cpus_per_task=cpus,
        mem=opts.mem or s.mem,
        partition=partition,
        account=account,
        qos=opts.qos or s.qos,
        reservation=opts.reservation or s.reservation,
        constraint=opts.constraint or s.constraint,
        exclusive=s.exclusive if opts.exclusive is None else opts.exclusive,
        mail_type=opts.mail_type,
        mail_user=opts.mail_user,
        array=opts.array,
        extra=tuple(extra),
    )
    software = Software(
        modules=tuple(cluster.software.modules),
        setup=tuple(cluster.software.setup),
        env=tuple((k, shell_value(v)) for k, v in env.items()),
        container=Container(c.runtime, c.image, tuple(c.flags), tuple(c.binds)),
    )
    return Job(
        kind=kind,  # type: ignore[arg-type]
        name=opts.job_name or f"{resolved.config.name}-{kind}",
        run_dir=str(run_dir),
        workdir=str(workdir or Path.cwd()),
        command=tuple(command),
        resources=resources,
        software=software,
        profile=cluster.name,
        signal_lead_s=s.signal_lead_s if kind == "train" else None,
        requeue_mode=requeue_mode,  # type: ignore[arg-type]
        max_requeues=s.max_requeues,
        rendezvous=cluster.rendezvous,
        description=f"llm-train {kind} job of experiment {resolved.config.name!r}",
        notes=opts.extra_notes,
    )


def shell_value(value: str) -> str:
    """A value for `export NAME=...`: bare when safe, else double-quoted so $VARS still expand."""
    if _SAFE_VALUE.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`") + '"'


def _check_world_size(resolved: ResolvedConfig, ranks: int, nodes: int, per_node: int) -> None:
    """The layout rules with the job's rank count, before sbatch: what the backend would check at start."""
    cfg = resolved.config
    source = f"the job's ranks ({nodes} node(s) x {per_node} task(s))"
    problems = config_problems(cfg, ranks, Runtime.for_cluster(cfg.cluster), source)
    if problems:
        raise ConfigError(
            [
                ConfigProblem(source_of(resolved.provenance, key), key, f"expected {expected}", value)
                for key, value, expected in problems
            ]
        )
