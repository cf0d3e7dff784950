"""What one sbatch job needs, as plain frozen data: the input of the pure `render` function."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["train", "eval", "generic"]
KINDS: tuple[str, ...] = ("train", "eval", "generic")


@dataclass(frozen=True)
class Resources:
    """The allocation: what the `#SBATCH` header asks for."""

    time: str
    nodes: int = 1
    ntasks_per_node: int = 1
    gpus_per_node: int = 0
    # "{n}" is replaced by gpus_per_node (site GRES syntax, e.g. "gpu:{n}"); None: --gpus-per-node.
    gres: str | None = None
    cpus_per_task: int | None = None
    mem: str | None = None
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    reservation: str | None = None
    constraint: str | None = None
    exclusive: bool = False
    mail_type: str | None = None
    mail_user: str | None = None
    array: str | None = None
    # Raw extra options, each "--name[=value]".
    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class Container:
    runtime: Literal["none", "apptainer", "singularity", "enroot"] = "none"
    image: str | None = None
    flags: tuple[str, ...] = ()
    binds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Software:
    """How the job's shell gets its environment (profile's software section)."""

    modules: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    # Ordered (name, value) pairs; values are shell words and may use $VARS.
    env: tuple[tuple[str, str], ...] = ()
    container: Container = Container()


@dataclass(frozen=True)
class Job:
    kind: Kind
    name: str
    run_dir: str  # absolute; scripts, logs and events live in <run_dir>/slurm/
    workdir: str  # absolute; --chdir, so relative paths in configs mean what they meant at submit
    command: tuple[str, ...]  # argv of the work (the trainer for "train")
    resources: Resources
    software: Software = Software()
    profile: str = "local-slurm"
    # train: seconds before the time limit at which Slurm sends USR1 to the batch shell.
    signal_lead_s: int | None = None
    # train: "self" = scontrol requeue on the trainer's interrupted code; "chain" = afterany segments.
    requeue_mode: Literal["self", "chain", "none"] = "none"
    max_requeues: int = 0
    # train: "c10d" wraps the command in torchrun (one launcher per node); else one srun task per rank.
    rendezvous: Literal["slurm-first-host", "c10d"] = "slurm-first-host"
    description: str = ""
    notes: tuple[str, ...] = field(default=())
