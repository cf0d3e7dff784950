"""The burn-in's verdict, without Slurm: which nodes fail and why, what the job script is told to do
(train, requeue on fewer nodes, fail past the exclusion budget), that the verdict survives being
sourced by bash whatever a reason says, and the CLI's refusal on a node with nothing to burn in.
The real local Slurm runs the whole gate in tests/test_slurm_health.py."""

from __future__ import annotations

import subprocess
import sys

from llm_train.cli.run_health import bad_nodes, read_bad_nodes
from llm_train.config.cluster import ClusterConfig
from llm_train.doctor.burnin import TEST_FAIL_ENV, NodeResult, decide, local_checks, relative_check
from llm_train.run_dir import RunDir
from tests.helpers.tiny_packed import REPO


def node(name: str, *reasons: str, **figures: float) -> NodeResult:
    return NodeResult(name, dict(figures), list(reasons))


def cluster(**health) -> ClusterConfig:
    return ClusterConfig(health=health)


def test_all_healthy_trains_and_keeps_earlier_exclusions(tmp_path):
    run = RunDir(tmp_path)
    run.bad_nodes_file.write_text("n9\t41\t2026-01-01T00:00:00Z\tGEMM low\n")
    decision = decide(run, [node("n1"), node("n2")], cluster(), 2, "42")
    assert (decision.action, decision.exclude, decision.nodes) == ("train", ["n9"], 2)


def test_a_bad_node_is_recorded_and_the_job_requeues_on_fewer_nodes_when_the_layout_fits(tmp_path):
    run = RunDir(tmp_path)
    results = [node("n1"), node("n2", "GPU 3 at 95 C"), node("n3")]
    decision = decide(run, results, cluster(), 3, "42", fits=lambda n: n == 2)
    assert (decision.action, decision.exclude, decision.nodes) == ("requeue", ["n2"], 2)
    assert "n2: GPU 3 at 95 C" in decision.reason
    (row,) = read_bad_nodes(run)
    assert (row["node"], row["job"], row["reason"]) == ("n2", "42", "GPU 3 at 95 C")
    assert bad_nodes(run).row_count == 1
    # Where the layout needs every node (or shrinking is off), the job waits for other nodes.
    assert decide(RunDir(tmp_path / "b"), results, cluster(), 3, "43", fits=lambda n: False).nodes == 3
    assert decide(RunDir(tmp_path / "c"), results, cluster(shrink=False), 3, "44").nodes == 3


def test_past_the_exclusion_budget_the_job_fails(tmp_path):
    run = RunDir(tmp_path)
    decide(run, [node("n1", "slow"), node("n2")], cluster(max_excluded_nodes=1), 2, "1")
    decision = decide(run, [node("n2", "ECC"), node("n3")], cluster(max_excluded_nodes=1), 2, "2")
    assert decision.action == "fail" and decision.exclude == ["n1", "n2"]
    assert "max_excluded_nodes" in decision.reason
    one = decide(RunDir(tmp_path / "one"), [node("n1", "ECC")], cluster(), 1, "3")
    assert one.action == "fail" and "no healthy node" in one.reason


def test_the_verdict_is_safe_to_source_in_bash(tmp_path):
    run = RunDir(tmp_path)
    reason = "GEMM 3 < 60% of $PEAK `x` \"quoted\" 'single'"
    decision = decide(run, [node("n1"), node("n2", reason)], cluster(), 2, "7")
    env = tmp_path / "decision.env"
    env.write_text(decision.env())
    out = subprocess.run(
        [
            "bash",
            "-c",
            f'source {env}; printf "%s|%s|%s|%s" "$HEALTH_ACTION" "$HEALTH_EXCLUDE" '
            f'"$HEALTH_NODES" "$HEALTH_REASON"',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == f"requeue|n2|1|n2: {reason}"


def test_relative_checks_flag_the_outlier_node():
    results = [node("n1", gemm_tflops=10.0), node("n2", gemm_tflops=9.5), node("n3", gemm_tflops=3.0)]
    relative_check(results, "gemm_tflops", 0.6, "GEMM TFLOP/s")
    assert [r.ok for r in results] == [True, True, False]
    assert "GEMM TFLOP/s 3 < 60% of the median node" in results[2].reasons[0]


def test_local_checks_measure_this_node_and_honour_the_test_hook(monkeypatch):
    from llm_train.doctor.burnin import node_name

    monkeypatch.setenv(TEST_FAIL_ENV, "")
    result = local_checks(cluster())
    assert result.ok and result.figures["gemm_tflops"] > 0 and result.figures["memory_gbps"] > 0
    monkeypatch.setenv(TEST_FAIL_ENV, f"other,{node_name()}")
    assert not local_checks(cluster()).ok


def doctor(*args: str, **env: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "llm_train.cli.main", "doctor", "--burn-in", *args],
        cwd=REPO,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_burn_in_without_a_gpu_refuses_unless_allowed(tmp_path):
    refused = doctor("--cluster", "local")
    assert refused.returncode == 1 and "--allow-cpu" in refused.stderr
    run = tmp_path / "run"
    ok = doctor("--cluster", "local", "--allow-cpu", "--run-dir", str(run))
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "HEALTH_ACTION=train" in (run / "health" / "decision.env").read_text()


def test_burn_in_names_the_failed_node_and_records_it(tmp_path):
    import socket

    run = tmp_path / "run"
    host = socket.gethostname()
    failed = doctor("--cluster", "local", "--allow-cpu", "--run-dir", str(run), **{TEST_FAIL_ENV: host})
    assert failed.returncode == 1
    assert host in failed.stdout and "failed on purpose" in failed.stdout
    assert read_bad_nodes(RunDir(run))[0]["node"] == host
    # A one-node allocation whose node failed waits for another node (the layout cannot shrink).
    verdict = (run / "health" / "decision.env").read_text()
    assert f"HEALTH_ACTION=requeue\nHEALTH_EXCLUDE={host}\nHEALTH_NODES=1\n" in verdict
