"""The local Slurm cluster (slurm/local-cluster) behaves like a real two-node cluster."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm


def write_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/bash\nset -euo pipefail\n" + body)
    return path


def node_states(cluster) -> dict[str, str]:
    out = cluster.run("sinfo", "-h", "-N", "-p", "debug", "-o", "%N %t").stdout
    return dict(line.split() for line in out.splitlines())


def test_sinfo_shows_two_idle_nodes(slurm_cluster):
    deadline = time.monotonic() + 20
    while (states := node_states(slurm_cluster)) != {"n1": "idle", "n2": "idle"}:
        assert time.monotonic() < deadline, f"nodes not idle: {states}"
        time.sleep(0.5)
    partitions = slurm_cluster.run("sinfo", "-h", "-o", "%P %l").stdout.split("\n")
    assert "debug* infinite" in partitions
    assert "short 30:00" in partitions


def test_two_node_job_runs_one_task_per_node(slurm_cluster, tmp_path):
    script = write_script(
        tmp_path / "two_nodes.sh",
        "srun bash -c 'echo \"$(hostname) $SLURM_NODEID $SLURMD_NODENAME $SLURM_PROCID\"' > ranks.txt\n",
    )
    job = slurm_cluster.sbatch(script, "--nodes=2", "--ntasks-per-node=1", "--time=2")
    assert slurm_cluster.wait(job, timeout=30) == "COMPLETED"
    lines = sorted((tmp_path / "ranks.txt").read_text().splitlines())
    assert lines == ["n1 0 n1 0", "n2 1 n2 1"]


def test_job_array_runs_all_tasks_at_most_two_at_a_time(slurm_cluster, tmp_path):
    script = write_script(
        tmp_path / "array.sh",
        'start=$(date +%s.%N); sleep 1; echo "$start $(date +%s.%N)" > "task-$SLURM_ARRAY_TASK_ID.txt"\n',
    )
    job = slurm_cluster.sbatch(script, "--array=0-3%2", "--time=2")
    assert slurm_cluster.wait(job, timeout=45) == "COMPLETED"
    assert sorted(slurm_cluster.states(job)) == [f"{job}_{i}" for i in range(4)]
    spans = [tuple(map(float, (tmp_path / f"task-{i}.txt").read_text().split())) for i in range(4)]
    for start, _ in spans:
        running = sum(1 for s, e in spans if s <= start < e)
        assert running <= 2, f"the %2 throttle was exceeded: {spans}"


def test_afterok_chain_runs_in_order_and_failed_parent_cancels_child(slurm_cluster, tmp_path):
    log = tmp_path / "chain.txt"
    step = write_script(tmp_path / "step.sh", f'echo "$STEP" >> {log}\n')
    jobs: list[str] = []
    for name in "abc":
        dependency = [f"--dependency=afterok:{jobs[-1]}"] if jobs else []
        jobs.append(slurm_cluster.sbatch(step, *dependency, f"--export=ALL,STEP={name}", "--time=2"))
    failing = slurm_cluster.sbatch(write_script(tmp_path / "fail.sh", "exit 3\n"), "--time=2")
    orphan = slurm_cluster.sbatch(
        step,
        f"--dependency=afterok:{failing}",
        "--kill-on-invalid-dep=yes",
        "--export=ALL,STEP=x",
        "--time=2",
    )
    assert slurm_cluster.wait(jobs[-1], timeout=60) == "COMPLETED"
    assert [slurm_cluster.wait(j, timeout=5) for j in jobs[:2]] == ["COMPLETED", "COMPLETED"]
    assert log.read_text().splitlines() == ["a", "b", "c"]
    assert slurm_cluster.wait(failing, timeout=30) == "FAILED"
    assert slurm_cluster.wait(orphan, timeout=30) == "CANCELLED"


def test_requeue_of_running_job_reruns_it_with_restart_count(slurm_cluster, tmp_path):
    runs = tmp_path / "runs.txt"
    script = write_script(
        tmp_path / "requeue.sh",
        f'echo "run ${{SLURM_RESTART_COUNT:-0}}" >> {runs}\n'
        '[ "${SLURM_RESTART_COUNT:-0}" -ge 1 ] || sleep 300\n',
    )
    job = slurm_cluster.sbatch(script, "--time=10", "--open-mode=append", "--requeue")
    deadline = time.monotonic() + 30
    while not (runs.exists() and runs.read_text()):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.2)
    slurm_cluster.run("scontrol", "requeue", job)
    # cred_expire=10 plus the 2 s scheduler interval: the rerun starts about 11 s later.
    assert slurm_cluster.wait(job, timeout=60) == "COMPLETED"
    assert runs.read_text().splitlines() == ["run 0", "run 1"]


def test_sacct_reports_final_state_and_exit_code(slurm_cluster, tmp_path):
    if os.environ.get("SETTING_ACCOUNTING") == "0":
        pytest.skip("cluster started with SETTING_ACCOUNTING=0")
    ok = slurm_cluster.sbatch(write_script(tmp_path / "ok.sh", "true\n"), "--time=2")
    bad = slurm_cluster.sbatch(write_script(tmp_path / "bad.sh", "exit 7\n"), "--time=2")
    assert slurm_cluster.wait(ok, timeout=30) == "COMPLETED"
    assert slurm_cluster.wait(bad, timeout=30) == "FAILED"
    # The exact query submitit polls with.
    out = slurm_cluster.run("sacct", "-o", "JobID,State,ExitCode", "--parsable2", "-j", f"{ok},{bad}").stdout
    rows = {line.split("|")[0]: line.split("|")[1:] for line in out.splitlines()[1:]}
    assert rows[ok] == ["COMPLETED", "0:0"]
    assert rows[bad] == ["FAILED", "7:0"]


def test_short_partition_rejects_time_above_its_limit(slurm_cluster, tmp_path):
    script = write_script(tmp_path / "t.sh", "true\n")
    with pytest.raises(RuntimeError, match="time limit"):
        slurm_cluster.sbatch(script, "--partition=short", "--time=01:00:00")
    job = slurm_cluster.sbatch(script, "--partition=short", "--time=00:10:00")
    assert slurm_cluster.wait(job, timeout=30) == "COMPLETED"
