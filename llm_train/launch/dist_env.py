"""One record of rank / world / rendezvous, whoever started the process.

Sources, in order: torchrun (RANK, WORLD_SIZE, ...), Slurm srun (SLURM_PROCID, ...), else a
single process. Both backends call `detect()`; nothing else reads these variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from llm_train.errors import LaunchError
from llm_train.launch.nodelist import expand_nodelist

DEFAULT_PORT = 29500
# Port derived from the job id so concurrent jobs sharing a node do not collide.
SLURM_PORT_BASE, SLURM_PORT_SPAN = 20000, 20000


@dataclass(frozen=True)
class DistEnv:
    rank: int
    local_rank: int
    world_size: int
    local_world_size: int
    node_rank: int
    num_nodes: int
    master_addr: str
    master_port: int
    source: str  # "torchrun" | "slurm" | "single"
    job_id: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    def torch_env(self) -> dict[str, str]:
        """The variables torch.distributed's env:// init (and DeepSpeed) expect."""
        return {
            "RANK": str(self.rank),
            "LOCAL_RANK": str(self.local_rank),
            "WORLD_SIZE": str(self.world_size),
            "LOCAL_WORLD_SIZE": str(self.local_world_size),
            "GROUP_RANK": str(self.node_rank),
            "MASTER_ADDR": self.master_addr,
            "MASTER_PORT": str(self.master_port),
        }


def _int(env: Mapping[str, str], name: str, default: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        if default is None:
            raise LaunchError(f"environment variable {name} is required but not set")
        return default
    try:
        return int(raw.split("(")[0])  # SLURM_TASKS_PER_NODE may read "4(x2)"
    except ValueError:
        raise LaunchError(f"environment variable {name}={raw!r} is not an integer") from None


def slurm_port(job_id: str | None) -> int:
    if not job_id or not job_id.isdigit():
        return DEFAULT_PORT
    return SLURM_PORT_BASE + int(job_id) % SLURM_PORT_SPAN


def detect(environ: Mapping[str, str] | None = None) -> DistEnv:
    env = os.environ if environ is None else environ
    if "RANK" in env and "WORLD_SIZE" in env:
        return _from_torchrun(env)
    # Only srun tasks carry SLURM_STEP_NUM_TASKS; the batch script itself is a single process.
    if "SLURM_PROCID" in env and "SLURM_STEP_NUM_TASKS" in env:
        return _from_slurm(env)
    addr = env.get("MASTER_ADDR", "127.0.0.1")
    return DistEnv(0, 0, 1, 1, 0, 1, addr, _int(env, "MASTER_PORT", DEFAULT_PORT), "single")


def _from_torchrun(env: Mapping[str, str]) -> DistEnv:
    world = _int(env, "WORLD_SIZE")
    local_world = _int(env, "LOCAL_WORLD_SIZE", world)
    rank = _int(env, "RANK")
    return DistEnv(
        rank=rank,
        local_rank=_int(env, "LOCAL_RANK", rank % local_world),
        world_size=world,
        local_world_size=local_world,
        node_rank=_int(env, "GROUP_RANK", rank // local_world),
        num_nodes=max(1, world // local_world),
        master_addr=env.get("MASTER_ADDR", "127.0.0.1"),
        master_port=_int(env, "MASTER_PORT", DEFAULT_PORT),
        source="torchrun",
        job_id=env.get("SLURM_JOB_ID"),
    )


def _from_slurm(env: Mapping[str, str]) -> DistEnv:
    job_id = env.get("SLURM_JOB_ID")
    nodelist = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
    try:
        hosts = expand_nodelist(nodelist) if nodelist else []
    except ValueError as exc:
        raise LaunchError(f"cannot parse SLURM_JOB_NODELIST: {exc}") from None
    world = _int(env, "SLURM_STEP_NUM_TASKS", _int(env, "SLURM_NTASKS", 1))
    num_nodes = _int(env, "SLURM_STEP_NUM_NODES", _int(env, "SLURM_NNODES", max(1, len(hosts))))
    local_world = _int(
        env, "SLURM_NTASKS_PER_NODE", _int(env, "SLURM_STEP_TASKS_PER_NODE", max(1, world // num_nodes))
    )
    master = env.get("MASTER_ADDR") or (hosts[0] if hosts else "127.0.0.1")
    return DistEnv(
        rank=_int(env, "SLURM_PROCID"),
        local_rank=_int(env, "SLURM_LOCALID", 0),
        world_size=world,
        local_world_size=local_world,
        node_rank=_int(env, "SLURM_NODEID", 0),
        num_nodes=num_nodes,
        master_addr=master,
        master_port=_int(env, "MASTER_PORT", slurm_port(job_id)),
        source="slurm",
        job_id=job_id,
    )
