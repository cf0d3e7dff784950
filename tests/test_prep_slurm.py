"""Prep job arrays from every site profile: the script each site would get (snapshots), the option
check, and how tasks are grouped. Nothing here talks to Slurm (tests/test_slurm_prep.py does)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from data_prep.cli.prep import main as prep_main
from data_prep.config import SlurmSection
from data_prep.pipeline.executor import ArrayExecutor, prep_array_job
from data_prep.pipeline.state import Workdir
from data_prep.pipeline.tasks import Task
from llm_train.errors import ConfigError
from llm_train.slurm import functions
from llm_train.slurm.profile import load_site
from tests.prep_support import REPO, TEST_CONFIG, make_corpus

CONFIGS = REPO / "configs"
SNAPSHOTS = REPO / "tests" / "snapshots" / "sbatch"
SLURM_PROFILES = sorted(
    p.stem for p in (CONFIGS / "cluster").glob("*.yaml") if "scheduler: slurm" in p.read_text()
)
UPDATE = os.environ.get("LLM_TRAIN_UPDATE_SNAPSHOTS") == "1"
OUTPUT = "/scratch/clean"
PYTHON = "/opt/llm-train/venv/bin/python"


@pytest.fixture(autouse=True)
def accounts(monkeypatch):
    for var in ("BUDGET_ACCOUNTS", "SBATCH_ACCOUNT", "LLM_TRAIN_ACCOUNT"):
        monkeypatch.setenv(var, "proj-demo")


def array_script(
    site_name: str, slurm: SlurmSection = SlurmSection(shards_per_task=2), groups: int = 40
) -> str:
    site = load_site(site_name, "prep-eu", configs_root=CONFIGS)
    job = prep_array_job(site, slurm, OUTPUT, "shard", groups, workdir=Path("/scratch/work"))
    return functions.sbatch_text(job, Path(OUTPUT) / ".prep" / "slurm" / "prep-array" / "%j", python=PYTHON)


@pytest.mark.parametrize("site", SLURM_PROFILES)
def test_prep_array_script_per_site(site):
    """The same site environment as the training script: modules, setup, exports, container,
    account, partition; one array of 40 groups, at most array_limit at once."""
    text = array_script(site)
    path = SNAPSHOTS / f"prep-array-{site}.sbatch"
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"no reference script {path}; run with LLM_TRAIN_UPDATE_SNAPSHOTS=1 and review it")
        path.write_text(text)
    assert text == path.read_text(), (
        f"{path.name} changed; review and update with LLM_TRAIN_UPDATE_SNAPSHOTS=1"
    )
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)
    assert "#SBATCH --array=0-39%32" in text and "#SBATCH --job-name=prep-eu-shard" in text
    train = (SNAPSHOTS / f"train-{site}.sbatch").read_text()
    # Every module, setup line and export of the training script is here too (not its rendezvous
    # address, nor its per-rank thread count).
    for line in train.splitlines():
        if line.startswith(("module ", "export ", "source ")) and not any(
            train_only in line for train_only in ("MASTER_", "OMP_NUM_THREADS")
        ):
            assert line in text.splitlines(), (site, line)


def test_juwels_prep_array_carries_the_site_modules():
    text = (SNAPSHOTS / "prep-array-juwels-booster.sbatch").read_text()
    assert "module load Stages/2024" in text and "#SBATCH --account=proj-demo" in text
    assert "#SBATCH --partition=booster" in text and "#SBATCH --exclusive" in text


def test_prep_options_override_the_profile():
    slurm = SlurmSection(
        partition="develbooster",
        qos="normal",
        time="00:30:00",
        mem="64G",
        array_limit=4,
        extra=["--hint=nomultithread"],
    )
    text = array_script("juwels-booster", slurm, groups=10)
    for option in (
        "--partition=develbooster",
        "--qos=normal",
        "--time=30",
        "--mem=64G",
        "--array=0-9%4",
        "--hint",
    ):
        assert f"#SBATCH {option}" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("--hnt=nomultithread", "sbatch has no option --hnt; did you mean --hint?"),
        ("--array=0-3", "--array is set by the job layer"),
        ("constraint=cpu", "expected '--option[=value]'"),
    ],
)
def test_bad_prep_options_are_refused_with_the_valid_ones(extra, message):
    with pytest.raises(ConfigError) as err:
        array_script("juwels-booster", SlurmSection(extra=[extra]))
    text = str(err.value)
    assert message in text and "executor.slurm.extra:" in text
    if "no option" in message:
        assert "valid options: " in text and "--hint" in text.split("valid options: ")[1]


def test_cli_refuses_a_bad_profile_option_before_writing_anything(tmp_path, capsys):
    make_corpus(tmp_path / "in", shards=2, per_shard=4)
    config = tmp_path / "prep.yaml"
    config.write_text(TEST_CONFIG)
    out = tmp_path / "out"
    base = ["--input", str(tmp_path / "in" / "*.jsonl.gz"), "--output", str(out), "--config", str(config)]
    with pytest.raises(ConfigError, match="did you mean --hint"):
        prep_main(
            [*base, "--executor", "slurm", "--cluster", "juwels-booster", "executor.slurm.extra=[--hnt=x]"]
        )
    with pytest.raises(ConfigError, match="no cluster config named 'nosuchsite'"):
        prep_main([*base, "--executor", "slurm", "--cluster", "nosuchsite"])
    with pytest.raises(ConfigError, match="profile 'local' has no Slurm"):
        prep_main([*base, "--executor", "slurm", "--cluster", "local"])
    typo = tmp_path / "site.yaml"
    typo.write_text(
        (CONFIGS / "cluster" / "local-slurm.yaml")
        .read_text()
        .replace("default_partition:", "default_partiton:")
    )
    with pytest.raises(ConfigError) as err:
        prep_main([*base, "--executor", "slurm", "--cluster", str(typo)])
    assert f"{typo}: cluster.slurm.default_partiton: unknown key; did you mean 'default_partition'?" in str(
        err.value
    )
    assert not out.exists()


def test_local_groups_balance_input_bytes_and_slurm_groups_are_consecutive(tmp_path):
    from data_prep.config import load_prep_config
    from data_prep.pipeline.runner import prepare_plan

    make_corpus(tmp_path / "in", shards=6, per_shard=4)
    config = tmp_path / "prep.yaml"
    config.write_text(TEST_CONFIG)
    resolved = load_prep_config(config, [], {"input": {"paths": [str(tmp_path / "in" / "*.jsonl.gz")]}})
    workdir = Workdir(tmp_path / "out")
    plan = prepare_plan(resolved, workdir)
    tasks = [Task("shard", i) for i in range(len(plan.shards))]
    groups = ArrayExecutor(workers=2).groups(workdir, tasks)
    assert sorted(i for g in groups for i in g) == list(range(len(plan.shards))) and len(groups) == 2
    loads = [sum(plan.shards[i].bytes for i in g) for g in groups]
    assert max(loads) - min(loads) <= max(s.bytes for s in plan.shards)
    site = load_site("local-slurm", "prep", configs_root=CONFIGS)
    slurm = ArrayExecutor(site=site, slurm=SlurmSection(shards_per_task=4))
    assert slurm.groups(workdir, [tasks[1], tasks[2], tasks[4]]) == [[1, 2, 4]]
    assert ArrayExecutor(site=site, slurm=SlurmSection()).groups(workdir, tasks[:2]) == [[0], [1]]


def test_an_array_task_uses_every_cpu_it_was_given(tmp_path, monkeypatch):
    """run_group with 2 processes (a Slurm task with 2 CPUs) leaves the same results as with 1."""
    from data_prep.config import load_prep_config
    from data_prep.pipeline.array_task import run_group
    from data_prep.pipeline.runner import prepare_plan

    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the pool's processes import the test steps
    make_corpus(tmp_path / "in", shards=4, per_shard=4)
    config = tmp_path / "prep.yaml"
    config.write_text(TEST_CONFIG)
    resolved = load_prep_config(config, [], {"input": {"paths": [str(tmp_path / "in" / "*.jsonl.gz")]}})
    results = []
    for processes in (1, 2):
        workdir = Workdir(tmp_path / f"out{processes}")
        prepare_plan(resolved, workdir)
        assert run_group(str(workdir.output), "shard", [0, 1, 2, 3], processes) == [0, 1, 2, 3]
        assert run_group(str(workdir.output), "shard", [0, 1, 2, 3], processes) == []  # all done already
        results.append([workdir.result("shard", i)["steps"] for i in range(4)])
    assert results[0] == results[1]
