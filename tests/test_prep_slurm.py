"""Slurm executor: the array sbatch script (snapshot), and array tasks run through that script."""

from __future__ import annotations

import pytest

from data_prep.config import SlurmSection
from data_prep.pipeline.slurm_executor import ArraySpec, array_ranges, render_sbatch
from llm_train.errors import ConfigError
from tests.prep_support import REPO, TEST_CONFIG, make_corpus, tree_bytes

EXPECTED_SBATCH = """\
#!/bin/bash
#SBATCH --job-name=prep-shard
#SBATCH --array=0-2,5,7-8%8
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --mem=16G
#SBATCH --time=04:00:00
#SBATCH --output=/scratch/clean/.prep/slurm/logs/%x-%A_%a.out
#SBATCH --partition=cpu
#SBATCH --account=proj123
#SBATCH --constraint=cpu

set -euo pipefail
module load python/3.11
source /proj/venv/bin/activate
export OMP_NUM_THREADS=2
exec python3 -m data_prep.pipeline.array_task --output /scratch/clean --stage shard --group-size 2
"""


def spec(**slurm) -> ArraySpec:
    section = SlurmSection(
        partition="cpu",
        account="proj123",
        setup=["module load python/3.11", "source /proj/venv/bin/activate"],
        extra=["--constraint=cpu"],
        array_limit=8,
        shards_per_task=2,
        **slurm,
    )
    return ArraySpec(
        job_name="prep-shard",
        output="/scratch/clean",
        stage="shard",
        groups=(0, 1, 2, 5, 7, 8),
        group_size=2,
        log_dir="/scratch/clean/.prep/slurm/logs",
        python="python3",
        slurm=section,
    )


def test_render_sbatch_snapshot():
    assert render_sbatch(spec()) == EXPECTED_SBATCH


def test_array_ranges():
    assert array_ranges([0]) == "0"
    assert array_ranges([3, 1, 2, 9, 10, 12]) == "1-3,9-10,12"


@pytest.mark.parametrize("bad", ["constraint=cpu", "--array=0-3", "--output=x", "-p cpu"])
def test_extra_options_are_checked(bad):
    with pytest.raises(ConfigError, match="executor.slurm.extra"):
        render_sbatch(ArraySpec(**{**spec().__dict__, "slurm": SlurmSection(extra=[bad])}))


def test_slurm_executor_runs_array_tasks_and_matches_local(tmp_path, monkeypatch):
    from data_prep.cli.prep import main as prep_main

    # The array tasks are separate processes: they import the test steps plugin from the repo.
    monkeypatch.setenv("PYTHONPATH", str(REPO))

    make_corpus(tmp_path / "in", shards=3, per_shard=6)
    config = tmp_path / "prep.yaml"
    config.write_text(TEST_CONFIG, encoding="utf-8")
    base = ["--input", str(tmp_path / "in" / "*.jsonl.gz"), "--config", str(config), "--no-progress"]
    assert prep_main([*base, "--output", str(tmp_path / "local")]) == 0
    slurm_out = tmp_path / "slurm"
    assert (
        prep_main(
            [
                *base,
                "--output",
                str(slurm_out),
                "--executor",
                "slurm",
                "executor.slurm.shards_per_task=2",
                "executor.slurm.run_locally=true",
            ]
        )
        == 0
    )
    scripts = slurm_out / ".prep" / "slurm"
    shard_script = (scripts / "shard.sbatch").read_text()
    assert "#SBATCH --array=0-1%32" in shard_script and "--stage shard --group-size 2" in shard_script
    assert (scripts / "dedup.sbatch").exists() and (scripts / "write.sbatch").exists()
    assert len(list((scripts / "logs").glob("prep-test-shard-local_*.out"))) == 2
    assert tree_bytes(slurm_out) == tree_bytes(tmp_path / "local")
