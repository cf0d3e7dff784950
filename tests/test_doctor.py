"""`llm-train doctor` checks: each one passes, warns or fails for the right reason."""

from __future__ import annotations

import socket

import pytest

from llm_train.cli.doctor import main
from llm_train.doctor import checks
from llm_train.doctor.checks import Status


def test_hf_offline_flag(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    (check,) = checks.offline_caches(None)
    assert check.status == Status.WARN and "HF_HUB_OFFLINE=1" in check.hint
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert checks.offline_caches(None)[0].status == Status.PASS


def test_tokenizer_present_or_not(tmp_path):
    assert checks.offline_caches(str(tmp_path))[1].status == Status.FAIL
    (tmp_path / "tokenizer.json").write_text("{}")
    assert checks.offline_caches(str(tmp_path))[1].status == Status.PASS


def test_run_dir_writable_creates_nothing(tmp_path):
    target = tmp_path / "runs" / "exp"
    writable, space = checks.run_dir(target, need_gb=0.001)
    assert writable.status == Status.PASS and space.status == Status.PASS
    assert not target.exists()
    assert checks.run_dir(target, need_gb=1e9)[1].status == Status.WARN


def test_run_dir_under_a_file_fails(tmp_path):
    (tmp_path / "afile").write_text("x")
    (check,) = checks.run_dir(tmp_path / "afile" / "runs", need_gb=1)
    assert check.status == Status.FAIL and check.hint


def test_slurm_commands(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert checks.slurm_commands(required=True).status == Status.FAIL
    assert checks.slurm_commands(required=False).status == Status.WARN
    for name in ("sbatch", "srun", "squeue", "sacct", "scancel"):
        exe = tmp_path / name
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    assert checks.slurm_commands(required=True).status == Status.PASS


def test_aim_server_reachable_and_not():
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        assert checks.aim_server(f"aim://127.0.0.1:{port}").status == Status.PASS
    assert checks.aim_server(f"aim://127.0.0.1:{port}", timeout_s=1).status == Status.WARN
    assert checks.aim_server(None).status == Status.PASS


def test_gpu_expectation_on_a_cpu_node():
    assert checks.gpus_visible(0).status == Status.PASS
    assert checks.gpus_visible(4).status == Status.WARN  # a login node: hint to run inside srun


def test_missing_required_module_fails():
    check = checks.importable("surely_not_a_module_xyz", True, "pip install it")
    assert check.status == Status.FAIL and check.hint == "pip install it"


@pytest.mark.distributed
def test_collective_smoke_test_really_all_reduces():
    from llm_train.doctor.collective import collective_smoke_test

    check = collective_smoke_test(timeout_s=120)
    assert check.status == Status.PASS, check.detail


def test_cli_exit_codes(tmp_path, capsys):
    assert main(["--no-collective", "--run-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "python" in out and "pass" in out
    (tmp_path / "afile").write_text("x")
    assert main(["--no-collective", "--run-dir", str(tmp_path / "afile" / "r")]) == 1


def test_cli_site_profile_without_slurm_fails(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["--cluster", "lumi-g", "--no-collective", "--run-dir", str(tmp_path), "--json"]) == 1
    out = capsys.readouterr().out
    assert '"slurm"' in out and '"fail"' in out
