"""One permission policy for everything a run writes (`storage.share`, `--share`, LLM_TRAIN_SHARE).

Unit checks of the policy's modes, then a small end-to-end flow (prep, tokenizer, pack, train with
checkpoints, eval, export) under each policy: every file and directory it wrote has the policy's mode.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from llm_train import storage
from llm_train.doctor import checks
from llm_train.doctor.checks import Status
from llm_train.utils.atomic import atomic_write_text
from tests.helpers.tiny_packed import train_env

REPO = Path(__file__).resolve().parents[1]
# What a policy allows at most (file, directory); "group" directories also carry setgid.
LIMITS = {"private": (0o600, 0o700), "group": (0o660, 0o2770), "world": (0o644, 0o755)}


@pytest.fixture
def umask_restored():
    old = os.umask(0o022)
    os.umask(old)
    share = os.environ.get(storage.ENV)
    yield
    os.umask(old)
    storage._umask = None
    if share is None:
        os.environ.pop(storage.ENV, None)
    else:
        os.environ[storage.ENV] = share


@pytest.mark.parametrize("share", list(LIMITS))
def test_policy_modes_for_our_writers(share, tmp_path, umask_restored):
    storage.apply(share)
    file_limit, dir_limit = LIMITS[share]
    root = storage.make_dirs(tmp_path / "a" / "b")
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == dir_limit
    atomic_write_text(root / "config.yaml", "x: 1\n")  # mkstemp would leave 0600
    assert stat.S_IMODE((root / "config.yaml").stat().st_mode) == file_limit
    (root / "lib.bin").write_bytes(b"written by a library")  # plain open(): the umask
    assert stat.S_IMODE((root / "lib.bin").stat().st_mode) == file_limit
    src = tmp_path / "src.json"
    src.write_text("{}")
    src.chmod(0o644)
    storage.copy_file(src, root / "copy.json")  # not the source's mode
    assert stat.S_IMODE((root / "copy.json").stat().st_mode) == file_limit
    if share == "group":  # subdirectories made by anyone inherit the group
        (root / "sub").mkdir()
        assert (root / "sub").stat().st_mode & stat.S_ISGID


def test_unknown_policy_is_refused(umask_restored, capsys):
    from llm_train.cli.main import main

    with pytest.raises(ValueError, match="private, group, world"):
        storage.apply("public")
    assert main(["--share", "public", "config", "--help"]) == 2
    assert "private, group, world" in capsys.readouterr().err


def test_doctor_warns_on_world_readable_dirs(tmp_path):
    corpus = tmp_path / "clean"
    corpus.mkdir(mode=0o770)
    (corpus / "de.jsonl.zst").write_bytes(b"x")
    os.chmod(corpus / "de.jsonl.zst", 0o660)
    os.chmod(corpus, 0o2770)
    assert checks.not_world_readable(corpus, "data").status == Status.PASS
    os.chmod(corpus / "de.jsonl.zst", 0o644)
    check = checks.not_world_readable(corpus, "data")
    assert check.status == Status.WARN and "de.jsonl.zst" in check.detail and "o-rwx" in check.hint


def _cli(*args: str, cwd: Path, env: dict) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "llm_train.cli.main", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"{args[:3]}: {proc.stdout[-2000:]}{proc.stderr[-3000:]}"


def _violations(root: Path, share: str) -> list[str]:
    file_limit, dir_limit = LIMITS[share]
    bad = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            mode = stat.S_IMODE((Path(dirpath) / name).stat().st_mode)
            if mode & ~dir_limit & 0o777 or (share == "group" and not mode & stat.S_ISGID):
                bad.append(f"{Path(dirpath) / name} {oct(mode)}")
        for name in filenames:
            p = Path(dirpath) / name
            if p.is_symlink() or p.is_socket():
                continue
            mode = stat.S_IMODE(p.stat().st_mode)
            if mode & ~file_limit & 0o777 & ~0o111:  # scripts may be executable; nothing else more open
                bad.append(f"{p} {oct(mode)}")
            if share == "group" and not mode & stat.S_IRGRP:
                bad.append(f"{p} {oct(mode)}: the project group cannot read it")
    return bad


@pytest.mark.slow
@pytest.mark.parametrize("share", list(LIMITS))
def test_every_artefact_of_a_small_run_follows_the_policy(share, tmp_path):
    os.chmod(tmp_path, 0o700)  # the test's own dir; what the flow creates below must follow the policy
    env = train_env(LLM_TRAIN_WORK=str(tmp_path), LLM_TRAIN_RUNS=str(tmp_path / "runs"))
    work = tmp_path / "w"
    raw = [str(REPO / "data/sample/fortunes-de.jsonl.gz"), str(REPO / "data/sample/fortunes-es.jsonl.gz")]
    _cli("--share", share, "prep", "--input", *raw, "--output", str(work / "clean"),
         "--config", str(REPO / "configs/data/prep-demo.yaml"), "--workers", "1", "--no-progress",
         cwd=tmp_path, env=env)  # fmt: skip
    _cli("--share", share, "tokenizer", "--corpus", str(work / "clean"), "--output", str(work / "tok"),
         "--vocab-size", "512", cwd=tmp_path, env=env)  # fmt: skip
    _cli("--share", share, "pack", "--corpus", str(work / "clean"), "--tokenizer", str(work / "tok"),
         "--output", str(work / "packed"), "--workers", "1", "--mixture", str(REPO / "configs/data/mixtures/demo.yaml"),
         "--train-split", "80,20,0", cwd=tmp_path, env=env)  # fmt: skip
    overrides = [
        f"storage.share={share}", f"data.mixture={work / 'packed' / 'mixture.yaml'}",
        f"data.tokenizer={work / 'tok'}", f"data.valid_corpus={work / 'clean'}", "model.vocab_size=512",
        "train.steps=4", "train.warmup_steps=1", "train.seq_length=64", "train.global_batch_size=4",
        "train.micro_batch_size=2", "train.eval_every=0", "checkpoint.every_steps=2", "parallel.dp=1",
        "tracking.aim=true", "tracking.system_metrics=false", "data.split=80,20,0",
    ]  # fmt: skip
    _cli("train", str(REPO / "configs/experiments/demo-cpu.yaml"), "--nproc", "1", "--run-id", "r", *overrides,
         cwd=tmp_path, env=env)  # fmt: skip
    run = tmp_path / "runs" / "demo-cpu" / "r"
    _cli("--share", share, "eval", "run", str(run), "--max-docs", "2", cwd=tmp_path, env=env)
    _cli("--share", share, "export", "--to", "hf", str(run), str(work / "hf"), cwd=tmp_path, env=env)
    assert (run / "checkpoints" / "latest").is_file() and (tmp_path / "runs" / "aim").is_dir()
    bad = _violations(work, share) + _violations(tmp_path / "runs", share)
    assert not bad, "\n".join(bad[:20])
