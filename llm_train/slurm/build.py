"""From a cluster profile + the user's flags to a validated `Job`, for every kind.

Everything that can be known before submission is checked here, so bad input fails with the
reason and nothing reaches sbatch: a profile without Slurm, an unknown partition, a missing
account, a time limit above the partition's maximum, more GPUs or nodes than the partition has,
a rank count that does not fit the parallel layout, extra options sbatch does not know or that
fight the renderer. What differs between kinds is only their shape (nodes, tasks, GPUs, requeue):
one small function per kind below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from llm_train.config.loader import ResolvedConfig
from llm_train.errors import ConfigError, ConfigProblem
from llm_train.parallel import Runtime, config_problems, ranks_per_node
from llm_train.slurm import profile
from llm_train.slurm.job import KINDS, SPECS, Job, JobArray, Resources
from llm_train.slurm.profile import Site, problem
from llm_train.slurm.timefmt import format_time


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
    job_name: str | None = None
    no_requeue: bool = False
    # >1: a chain of this many afterany jobs instead of scontrol requeue (sites that forbid requeue).
    segments: int = 1
    extra_notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Shape:
    """How a kind uses the allocation."""

    nodes: int
    tasks_per_node: int = 1
    gpus_per_node: int = 0
    cpus_per_task: int | None = None
    requeue_mode: str = "none"


def _train(site: Site, opts: SubmitOptions, gpus: int) -> Shape:
    """All GPUs of every node, one rank per GPU (one per node on CPU), requeued on the signal."""
    s, hw = site.cluster.slurm, site.cluster.hardware
    gpus = gpus if opts.gpus_per_node is None else opts.gpus_per_node
    tasks = ranks_per_node(gpus)
    requeue = "chain" if opts.segments > 1 else "self" if s.requeue and not opts.no_requeue else "none"
    cpus = opts.cpus_per_task or s.cpus_per_task or max(1, hw.cpus_per_node // tasks)
    return Shape(opts.nodes or site.cluster.nodes, tasks, gpus, cpus, requeue)


def _one_task(site: Site, opts: SubmitOptions, gpus: int) -> Shape:
    """Data stages, doctor, commands, prep array tasks: one process, no GPU unless asked for."""
    cpus = opts.cpus_per_task or site.cluster.slurm.cpus_per_task
    return Shape(opts.nodes or 1, 1, opts.gpus_per_node or 0, cpus)


def _eval(site: Site, opts: SubmitOptions, gpus: int) -> Shape:
    """One process with one GPU (none on a CPU site)."""
    cpus = opts.cpus_per_task or site.cluster.slurm.cpus_per_task
    return Shape(opts.nodes or 1, 1, min(1, gpus) if opts.gpus_per_node is None else opts.gpus_per_node, cpus)


def _burn_in(site: Site, opts: SubmitOptions, gpus: int) -> Shape:
    """One task per node with every GPU and CPU of it: the burn-in checks the whole node."""
    gpus = gpus if opts.gpus_per_node is None else opts.gpus_per_node
    cpus = opts.cpus_per_task or site.cluster.hardware.cpus_per_node
    return Shape(opts.nodes or site.cluster.nodes, 1, gpus, cpus)


SHAPES: dict[str, Callable[[Site, SubmitOptions, int], Shape]] = {
    "train": _train,
    "prep": _one_task,
    "tokenizer": _one_task,
    "pack": _one_task,
    "doctor": _one_task,
    "generic": _one_task,
    "prep-array": _one_task,
    "eval": _eval,
    "burn-in": _burn_in,
}
assert set(SHAPES) == set(KINDS)


def build_job(
    source: Site | ResolvedConfig,
    kind: str,
    command: list[str] | tuple[str, ...],
    run_dir: Path,
    opts: SubmitOptions = SubmitOptions(),
    workdir: Path | None = None,
    array: JobArray | None = None,
) -> Job:
    if kind not in KINDS:
        raise problem("--kind", f"expected one of {', '.join(KINDS)}", kind)
    site = Site.of(source)
    cluster = profile.slurm_profile(site)
    s = cluster.slurm
    part_name, part = profile.partition(site, opts.partition)
    time, seconds = profile.time_limit(site, opts.time, part_name, part)
    account = profile.account(site, opts.account)
    available = profile.gpus_available(site, part)
    shape = SHAPES[kind](site, opts, available)
    _check_fits(shape, available, part_name, part, cluster.name)
    if kind == "train":
        _check_world_size(site, shape)
    signal_lead = _signal_lead(site, kind, seconds)
    resources = Resources(
        time=time,
        nodes=shape.nodes,
        ntasks_per_node=shape.tasks_per_node,
        gpus_per_node=shape.gpus_per_node,
        gres=s.gres,
        cpus_per_task=shape.cpus_per_task,
        mem=opts.mem or s.mem,
        partition=part_name,
        account=account,
        qos=opts.qos or s.qos,
        reservation=opts.reservation or s.reservation,
        constraint=opts.constraint or s.constraint,
        exclusive=s.exclusive if opts.exclusive is None else opts.exclusive,
        mail_type=opts.mail_type,
        mail_user=opts.mail_user,
        extra=profile.extra_options(site, tuple(opts.sbatch)),
    )
    return Job(
        kind=kind,
        name=opts.job_name or f"{site.job_name}-{kind}",
        run_dir=str(run_dir),
        workdir=str(workdir or Path.cwd()),
        command=tuple(command),
        resources=resources,
        software=profile.software(site, shape.cpus_per_task),
        profile=cluster.name,
        array=array,
        signal_lead_s=signal_lead,
        requeue_mode=shape.requeue_mode,  # type: ignore[arg-type]
        max_requeues=s.max_requeues,
        rendezvous=cluster.rendezvous,
        description=f"llm-train {kind} job of {site.owner} {site.job_name!r}",
        notes=opts.extra_notes,
        preflight=_preflight(cluster, kind, command, run_dir),
    )


def _preflight(cluster, kind: str, command, run_dir: Path) -> tuple[str, ...]:
    """The burn-in, by the same `llm-train` as the training command, reads the run's own
    config.yaml (cluster section included) on every node."""
    if kind != "train" or not cluster.health.preflight:
        return ()
    return (command[0], "doctor", "--burn-in", "--run-dir", str(run_dir))


def _check_fits(shape: Shape, available: int, part_name: str | None, part, cluster_name: str) -> None:
    if shape.gpus_per_node > available:
        where = f"partition {part_name!r}" if part else f"profile {cluster_name!r}"
        raise problem(
            "--gpus-per-node",
            f"{shape.gpus_per_node} GPUs per node, but {where} has {available}",
            shape.gpus_per_node,
        )
    if part and part.max_nodes and shape.nodes > part.max_nodes:
        raise problem(
            "--nodes", f"partition {part_name!r} allows at most {part.max_nodes} nodes", shape.nodes
        )


def _signal_lead(site: Site, kind: str, seconds: int) -> int | None:
    """Train: USR1 to the batch shell this long before the limit (the trainer checkpoints).
    Function jobs: submitit's USR2, after which a Checkpointable is requeued."""
    lead = site.cluster.slurm.signal_lead_s
    if kind == "train":
        if lead and seconds <= lead:
            raise problem(
                "--time",
                f"must be longer than the profile's signal lead ({lead} s), "
                "or the job is signalled before it starts working",
                format_time(seconds),
            )
        return lead
    return min(lead, seconds // 2) if SPECS[kind].launch == "function" else None


def _check_world_size(site: Site, shape: Shape) -> None:
    """The layout rules with the job's rank count, before sbatch: what the backend would check at start."""
    resolved = site.experiment
    if resolved is None:
        raise problem("--kind", "a train job needs an experiment config", "train")
    cfg = resolved.config
    ranks = shape.nodes * shape.tasks_per_node
    source = f"the job's ranks ({shape.nodes} node(s) x {shape.tasks_per_node} task(s))"
    problems = config_problems(cfg, ranks, Runtime.for_cluster(cfg.cluster), source)
    if problems:
        raise ConfigError(
            [
                ConfigProblem(site.source(key), key, f"expected {expected}", value)
                for key, value, expected in problems
            ]
        )
