"""What one Slurm job needs, as plain frozen data: the input of the pure renderers.

Every job kind is built from the cluster profile by `build.build_job` and is one of two launches:
- a *script* job runs a command from a readable template in slurm/templates/ (`render.render`):
  the multi-node training launch and the one-command data stages of a chain;
- a *function* job runs a Python function through submitit (`functions.py`): prep array tasks,
  evaluations of checkpoints, the per-node burn-in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Launch = Literal["script", "function"]


@dataclass(frozen=True)
class KindSpec:
    name: str
    launch: Launch
    # slurm/templates/<template>.sbatch of a script kind.
    template: str | None
    what: str


_SPECS = (
    KindSpec("train", "script", "train", "multi-node training: srun one rank per GPU, requeue on signal"),
    KindSpec("prep", "script", "command", "`llm-train prep` as one job (it may submit its own arrays)"),
    KindSpec("tokenizer", "script", "command", "`llm-train tokenizer` on one node"),
    KindSpec("pack", "script", "command", "`llm-train pack` on one node"),
    KindSpec("doctor", "script", "command", "`llm-train doctor` on a compute node"),
    KindSpec("generic", "script", "command", "any command line on one node"),
    KindSpec("prep-array", "function", None, "prep tasks as a submitit job array, one group per task"),
    KindSpec("eval", "function", None, "`llm-train eval run` of checkpoints, an array for several"),
    KindSpec("burn-in", "function", None, "`llm-train doctor --burn-in` once on every node"),
)
SPECS: dict[str, KindSpec] = {s.name: s for s in _SPECS}
KINDS: tuple[str, ...] = tuple(SPECS)
# What `llm-train submit --kind` offers (prep arrays are submitted by `llm-train prep` itself).
SUBMIT_KINDS: tuple[str, ...] = tuple(k for k in KINDS if k != "prep-array")


@dataclass(frozen=True)
class JobArray:
    """Tasks 0..size-1, at most `parallelism` running at once (None: as many as Slurm allows)."""

    size: int
    parallelism: int | None = None

    @property
    def spec(self) -> str:
        """Slurm's --array value."""
        return f"0-{self.size - 1}" + (f"%{self.parallelism}" if self.parallelism else "")


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
    # Raw extra options, each "--name[=value]" (checked by options.check_sbatch_options).
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
    kind: str  # one of KINDS
    name: str
    run_dir: str  # absolute; scripts, logs and events live in <run_dir>/slurm/ (prep: <output>/.prep/slurm/)
    workdir: str  # absolute; --chdir, so relative paths in configs mean what they meant at submit
    command: tuple[str, ...]  # argv of the work (script jobs; function jobs: what the function runs)
    resources: Resources
    software: Software = Software()
    profile: str = "local-slurm"
    array: JobArray | None = None
    # Seconds before the time limit at which Slurm signals the job: USR1 to train's batch shell,
    # submitit's USR2 to a function job (it checkpoints and requeues a Checkpointable).
    signal_lead_s: int | None = None
    # train: "self" = scontrol requeue on the trainer's interrupted code; "chain" = afterany segments.
    requeue_mode: Literal["self", "chain", "none"] = "none"
    # train: requeue budget; function jobs: how often submitit requeues a timed-out Checkpointable.
    max_requeues: int = 0
    # train: "c10d" wraps the command in torchrun (one launcher per node); else one srun task per rank.
    rendezvous: Literal["slurm-first-host", "c10d"] = "slurm-first-host"
    description: str = ""
    notes: tuple[str, ...] = field(default=())
    # train with cluster.health.preflight: the burn-in command run on every node before training.
    preflight: tuple[str, ...] = ()

    @property
    def spec(self) -> KindSpec:
        return SPECS[self.kind]

    @property
    def slurm_dir(self) -> str:
        return f"{self.run_dir}/slurm"
