"""Distributed env detection from torchrun, Slurm and plain runs; Slurm node-list expansion."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from llm_train.errors import LaunchError
from llm_train.launch.dist_env import detect, slurm_port
from llm_train.launch.nodelist import expand_nodelist


@pytest.mark.parametrize(
    ("nodelist", "expected"),
    [
        ("jwb[0001-0004,0010]", ["jwb0001", "jwb0002", "jwb0003", "jwb0004", "jwb0010"]),
        ("nid[001234-001237]", ["nid001234", "nid001235", "nid001236", "nid001237"]),
        ("lrdn[0001,0003]", ["lrdn0001", "lrdn0003"]),
        ("n1", ["n1"]),
        ("n[1-2],login01", ["n1", "n2", "login01"]),
        ("gpu[8-11]", ["gpu8", "gpu9", "gpu10", "gpu11"]),
        ("r[1-2]n[01-02]", ["r1n01", "r1n02", "r2n01", "r2n02"]),
        ("as01p[9-10],bs[007-008]", ["as01p9", "as01p10", "bs007", "bs008"]),
    ],
)
def test_expand_nodelist(nodelist: str, expected: list[str]) -> None:
    assert expand_nodelist(nodelist) == expected


@pytest.mark.parametrize("bad", ["jwb[0001-", "jwb[a-b]", "x]", "n[5-2]"])
def test_expand_nodelist_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        expand_nodelist(bad)


@pytest.mark.skipif(
    shutil.which("scontrol") is None, reason="compared with Slurm's own parser when installed"
)
def test_matches_scontrol_show_hostnames(tmp_path) -> None:
    # scontrol parses host lists offline but insists on a readable slurm.conf.
    conf = tmp_path / "slurm.conf"
    conf.write_text("ClusterName=t\nSlurmctldHost=localhost\nNodeName=localhost\nPartitionName=p Nodes=ALL\n")
    env = {"SLURM_CONF": str(conf), "PATH": os.environ["PATH"]}
    for nodelist in ("jwb[0001-0004,0010]", "nid[001234-001237]", "lrdn[0001,0003]", "r[1-2]n[01-02]"):
        out = subprocess.run(
            ["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True, env=env
        )
        assert expand_nodelist(nodelist) == out.stdout.split()


def test_single_process_default() -> None:
    env = detect({})
    assert (env.rank, env.world_size, env.local_rank, env.source) == (0, 1, 0, "single")
    assert not env.is_distributed and env.is_main


def test_torchrun() -> None:
    env = detect(
        {
            "RANK": "5",
            "LOCAL_RANK": "1",
            "WORLD_SIZE": "8",
            "LOCAL_WORLD_SIZE": "4",
            "MASTER_ADDR": "node0",
            "MASTER_PORT": "29400",
            "GROUP_RANK": "1",
        }
    )
    assert (env.rank, env.local_rank, env.world_size, env.node_rank, env.num_nodes) == (5, 1, 8, 1, 2)
    assert (env.master_addr, env.master_port, env.source) == ("node0", 29400, "torchrun")


def test_slurm_srun_task() -> None:
    env = detect(
        {
            "SLURM_PROCID": "6",
            "SLURM_LOCALID": "2",
            "SLURM_NTASKS": "16",
            "SLURM_STEP_NUM_TASKS": "16",
            "SLURM_NODEID": "1",
            "SLURM_JOB_NODELIST": "jwb[0001-0004,0010]",
            "SLURM_NNODES": "4",
            "SLURM_NTASKS_PER_NODE": "4",
            "SLURM_JOB_ID": "123456",
        }
    )
    assert (env.rank, env.local_rank, env.world_size, env.local_world_size) == (6, 2, 16, 4)
    assert env.master_addr == "jwb0001" and env.node_rank == 1 and env.num_nodes == 4
    assert env.master_port == slurm_port("123456") and 20000 <= env.master_port < 40000
    assert env.torch_env()["RANK"] == "6" and env.torch_env()["MASTER_ADDR"] == "jwb0001"


def test_slurm_tasks_per_node_with_repeat_count() -> None:
    env = detect(
        {
            "SLURM_PROCID": "0",
            "SLURM_NTASKS": "8",
            "SLURM_STEP_NUM_TASKS": "8",
            "SLURM_JOB_NODELIST": "nid[001234-001235]",
            "SLURM_STEP_TASKS_PER_NODE": "4(x2)",
            "SLURM_JOB_ID": "7",
        }
    )
    assert env.local_world_size == 4 and env.num_nodes == 2 and env.master_addr == "nid001234"


def test_batch_script_is_a_single_process() -> None:
    # The batch step has SLURM_PROCID and SLURM_NTASKS but is not an srun task.
    env = detect(
        {"SLURM_PROCID": "0", "SLURM_NTASKS": "8", "SLURM_JOB_NODELIST": "n[1-2]", "SLURM_JOB_ID": "9"}
    )
    assert env.source == "single" and env.world_size == 1


def test_master_addr_override_and_bad_values() -> None:
    env = detect(
        {
            "SLURM_PROCID": "0",
            "SLURM_NTASKS": "2",
            "SLURM_STEP_NUM_TASKS": "2",
            "SLURM_JOB_NODELIST": "n[1-2]",
            "MASTER_ADDR": "10.0.0.1",
        }
    )
    assert env.master_addr == "10.0.0.1"
    with pytest.raises(LaunchError, match="WORLD_SIZE"):
        detect({"RANK": "0", "WORLD_SIZE": "two"})
    with pytest.raises(LaunchError, match="NODELIST"):
        detect(
            {
                "SLURM_PROCID": "0",
                "SLURM_NTASKS": "2",
                "SLURM_STEP_NUM_TASKS": "2",
                "SLURM_JOB_NODELIST": "n[1-",
            }
        )
