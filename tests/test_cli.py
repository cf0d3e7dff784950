"""The `llm-train` dispatcher and the `config` subcommand, run as a user would (subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from llm_train import __version__
from llm_train.cli.commands import COMMANDS
from llm_train.cli.main import main


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "llm_train.cli.main", *args], capture_output=True, text=True, cwd=cwd
    )


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in (
        "prep",
        "tokenizer",
        "pack",
        "train",
        "submit",
        "eval",
        "export",
        "plan",
        "doctor",
        "config",
    ):
        assert name in out


def test_unknown_command_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trian"]) == 2
    assert "Did you mean 'train'" in capsys.readouterr().err


def test_every_subcommand_has_help() -> None:
    for name in COMMANDS:
        proc = run(name, "--help")
        assert proc.returncode == 0, (name, proc.stderr)
        assert "usage" in proc.stdout.lower(), name


def test_every_command_target_exists() -> None:
    """The table names only modules and functions that exist (no placeholder commands)."""
    from llm_train.cli import commands
    from llm_train.cli.main import resolve

    for name in commands.COMMANDS:
        assert callable(resolve(name)), name


def test_config_show_prints_resolved_yaml_and_hash(configs_root: Path) -> None:
    exp = str(configs_root / "experiments" / "demo-cpu.yaml")
    first = run("config", "show", exp, "train.lr=1e-3")
    second = run("config", "show", exp, "train.lr=1e-3")
    assert first.returncode == 0, first.stderr
    assert "  lr: 0.001\n" in first.stdout
    assert first.stdout.strip().splitlines()[-1].startswith("# sha256: ")
    assert first.stdout == second.stdout


def test_config_validate_exit_codes(tmp_path: Path, configs_root: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("defaults: [{model: tiny}]\nmodle: {}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "llm_train.cli.main", "config", "validate", str(bad)],
        capture_output=True,
        text=True,
        env={"LLM_TRAIN_CONFIGS": str(configs_root), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 1
    assert str(bad) in proc.stderr and "modle" in proc.stderr and "did you mean 'model'" in proc.stderr
    good = run("config", "validate", str(configs_root / "experiments" / "demo-cpu.yaml"))
    assert good.returncode == 0 and "1 valid, 0 invalid" in good.stdout


def test_config_diff_between_file_and_run_dir(tmp_path: Path, configs_root: Path) -> None:
    exp = configs_root / "experiments" / "demo-cpu.yaml"
    shown = run("config", "show", str(exp), "train.lr=5e-4", "parallel.zero_stage=2")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(shown.stdout)
    proc = run("config", "diff", str(exp), str(run_dir))
    assert proc.returncode == 0, proc.stderr
    assert "train.lr" in proc.stdout and "parallel.zero_stage" in proc.stdout
    assert "2 keys differ" in proc.stdout
    same = run("config", "diff", str(exp), str(exp))
    assert "no differences" in same.stdout
