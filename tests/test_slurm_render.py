"""sbatch rendering of every job kind: snapshots per cluster profile, validation before submission
(one option check for every kind), time parsing, site detection. Pure functions only; nothing here
talks to Slurm."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from llm_train.cli.main import main as cli
from llm_train.config import load_config
from llm_train.errors import ConfigError
from llm_train.slurm import functions
from llm_train.slurm.build import SubmitOptions, build_job
from llm_train.slurm.job import KINDS, JobArray
from llm_train.slurm.profile import load_site
from llm_train.slurm.render import render
from llm_train.slurm.sites import detect_site
from llm_train.slurm.timefmt import format_time, parse_time

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
SNAPSHOTS = REPO / "tests" / "snapshots" / "sbatch"
EXPERIMENT = CONFIGS / "experiments" / "demo-cpu.yaml"
RUN_DIR = Path("/scratch/runs/demo-cpu/run-1")
SLURM_PROFILES = sorted(
    p.stem for p in (CONFIGS / "cluster").glob("*.yaml") if "scheduler: slurm" in p.read_text()
)
# Set LLM_TRAIN_UPDATE_SNAPSHOTS=1 to rewrite the reference scripts after an intended change.
UPDATE = os.environ.get("LLM_TRAIN_UPDATE_SNAPSHOTS") == "1"


@pytest.fixture(autouse=True)
def accounts(monkeypatch):
    for var in ("BUDGET_ACCOUNTS", "SBATCH_ACCOUNT", "LLM_TRAIN_ACCOUNT"):
        monkeypatch.setenv(var, "proj-demo")


def resolved(cluster: str, *overrides: str):
    # A global batch every profile's ranks divide (up to 16 nodes x 8 GPUs, micro batch 4).
    fits = ["parallel.dp=auto", "train.global_batch_size=512", "runs_dir=/scratch/runs"]
    return load_config(EXPERIMENT, [*fits, *overrides], cluster=cluster)


COMMANDS = {
    "train": ["llm-train", "train", f"{RUN_DIR}/config.yaml", "--run-id", "run-1"],
    "eval": ["llm-train", "eval", "run", str(RUN_DIR), "--step", "100"],
    "prep": ["llm-train", "prep", "--input", "raw/*.jsonl.zst", "--output", "work/clean"],
    "tokenizer": ["llm-train", "tokenizer", "--corpus", "work/clean", "--output", "work/tok"],
    "pack": [
        "llm-train",
        "pack",
        "--corpus",
        "work/clean",
        "--tokenizer",
        "work/tok",
        "--output",
        "work/packed",
    ],
    "doctor": ["llm-train", "doctor", "--cluster", "juwels-booster"],
    "generic": ["bash", "-c", "echo hello"],
    "burn-in": ["llm-train", "doctor", "--burn-in", "--cluster", "juwels-booster", "--run-dir", str(RUN_DIR)],
}
# Function jobs name this installation's python: a fixed one keeps the snapshots machine-free.
PYTHON = "/opt/llm-train/venv/bin/python"


def job_for(cluster: str, kind: str = "train", opts: SubmitOptions = SubmitOptions(), *overrides: str):
    return build_job(
        resolved(cluster, *overrides), kind, COMMANDS[kind], RUN_DIR, opts, workdir=Path("/scratch/work")
    )


def text_of(job) -> str:
    if job.spec.launch == "function":
        return functions.sbatch_text(job, RUN_DIR / "slurm" / job.kind / "%j", python=PYTHON)
    return render(job)


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"no reference script {path}; run with LLM_TRAIN_UPDATE_SNAPSHOTS=1 and review it")
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; review and update with LLM_TRAIN_UPDATE_SNAPSHOTS=1"


def test_real_site_profiles_are_covered():
    expected = {"juwels-booster", "jureca-dc", "jupiter", "lumi-g", "leonardo-booster", "marenostrum5-acc"}
    assert expected <= set(SLURM_PROFILES)
    assert {"local-slurm", "template"} <= set(SLURM_PROFILES)


@pytest.mark.parametrize("cluster", SLURM_PROFILES)
def test_train_script_snapshot_per_profile(cluster):
    text = render(job_for(cluster))
    check_snapshot(f"train-{cluster}.sbatch", text)
    # A script a user can submit by hand: valid bash.
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)


@pytest.mark.parametrize("cluster", ["juwels-booster", "lumi-g"])
def test_train_script_with_burn_in_preflight(cluster):
    """cluster.health.preflight puts the per-node burn-in (inside the site's container) before
    training, and the requeue without the bad nodes after it; the tests in test_slurm_health.py
    run it on the real local Slurm."""
    text = render(job_for(cluster, "train", SubmitOptions(), "cluster.health.preflight=true"))
    check_snapshot(f"train-{cluster}-preflight.sbatch", text)
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)
    burn_in = next(line for line in text.splitlines() if "doctor --burn-in" in line)
    assert burn_in.startswith('srun --ntasks-per-node=1 --ntasks="$SLURM_JOB_NUM_NODES"')
    assert burn_in.endswith(f"llm-train doctor --burn-in --run-dir {RUN_DIR}")
    assert text.index("doctor --burn-in") < text.index("srun_pid=$!")
    assert 'scontrol requeuehold "$SLURM_JOB_ID"' in text
    assert "preflight: false" not in text
    assert "preflight: false" in render(job_for(cluster))


# Train per profile above; prep arrays per profile in tests/test_prep_slurm.py.
@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("train", "prep-array")])
def test_every_kind_takes_the_profile_in_one_place(kind):
    """Modules, setup, exports, account, partition, QoS and exclusivity reach every kind's script."""
    job = job_for("juwels-booster", kind)
    text = text_of(job)
    check_snapshot(f"{kind}-juwels-booster.sbatch", text)
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)
    for line in (
        "module load Stages/2024",
        'source "${LLM_TRAIN_VENV:?export LLM_TRAIN_VENV=<path of the project venv>}/bin/activate"',
        "export NCCL_SOCKET_IFNAME=ib0",
        "export HF_DATASETS_OFFLINE=1",
    ):
        assert line in text.splitlines(), (kind, line)
    for option in ("--account=proj-demo", "--partition=booster", "--exclusive", "--chdir=/scratch/work"):
        assert f"#SBATCH {option}" in text, (kind, option)
    assert ("#SBATCH --gres=gpu:" in text) == (kind in ("eval", "burn-in"))


def test_function_jobs_get_the_profile_signal_lead_and_array_parallelism():
    job = build_job(
        resolved("lumi-g"),
        "eval",
        COMMANDS["eval"],
        RUN_DIR,
        SubmitOptions(time="01:00:00", sbatch=("--hint=nomultithread",)),
        array=JobArray(6, parallelism=2),
    )
    text = functions.sbatch_text(job, RUN_DIR / "slurm" / "eval" / "%j", python=PYTHON)
    assert "#SBATCH --array=0-5%2" in text and "#SBATCH --signal=USR2@600" in text
    assert "#SBATCH --hint" in text and "#SBATCH --qos" not in text
    # The container wraps the python that runs the function, as it wraps the trainer.
    assert (
        "singularity exec --bind=/pfs,/scratch" in text
        and "lumi-pytorch-rocm.sif python3 -u -m submitit" in text
    )


def test_a_profile_on_its_own_builds_the_same_environment():
    """`llm-train prep --cluster SITE` has no experiment: the profile alone gives the same job."""
    site = load_site("juwels-booster", "demo-cpu", configs_root=CONFIGS, owner="experiment")
    alone = build_job(site, "pack", COMMANDS["pack"], RUN_DIR, workdir=Path("/scratch/work"))
    assert render(alone) == render(job_for("juwels-booster", "pack"))


def test_flags_override_the_profile():
    opts = SubmitOptions(
        account="other",
        partition="develbooster",
        qos="normal",
        reservation="maint",
        time="30",
        nodes=2,
        gpus_per_node=2,
        cpus_per_task=8,
        mem="64G",
        constraint="largedata",
        exclusive=False,
        mail_type="END,FAIL",
        mail_user="me@example.org",
        sbatch=("--hint=nomultithread",),
    )
    lines = [
        line
        for line in render(job_for("juwels-booster", "train", opts)).splitlines()
        if line.startswith("#SBATCH")
    ]
    for expected in (
        "--account=other",
        "--partition=develbooster",
        "--qos=normal",
        "--reservation=maint",
        "--time=30",
        "--nodes=2",
        "--ntasks-per-node=2",
        "--gres=gpu:2",
        "--cpus-per-task=8",
        "--mem=64G",
        "--constraint=largedata",
        "--mail-type=END,FAIL",
        "--mail-user=me@example.org",
        "--hint=nomultithread",
    ):
        assert f"#SBATCH {expected}" in lines
    assert "#SBATCH --exclusive" not in lines


def test_render_is_pure():
    job = job_for("lumi-g")
    assert render(job) == render(job)


@pytest.mark.parametrize(
    ("cluster", "opts", "overrides", "message"),
    [
        (
            "juwels-booster",
            SubmitOptions(time="25:00:00"),
            (),
            "above the maximum of partition 'booster' (24:00:00)",
        ),
        ("juwels-booster", SubmitOptions(partition="develbooster", nodes=5), (), "at most 4 nodes"),
        (
            "juwels-booster",
            SubmitOptions(gpus_per_node=8),
            (),
            "8 GPUs per node, but partition 'booster' has 4",
        ),
        ("juwels-booster", SubmitOptions(partition="gpu"), (), "no partition 'gpu'"),
        ("juwels-booster", SubmitOptions(time="banana"), (), "not a Slurm time"),
        ("juwels-booster", SubmitOptions(time="5:00"), (), "longer than the profile's signal lead"),
        ("juwels-booster", SubmitOptions(sbatch=("--output=x",)), (), "does not already set"),
        ("juwels-booster", SubmitOptions(sbatch=("hint=nomultithread",)), (), "expected '--option[=value]'"),
        ("juwels-booster", SubmitOptions(sbatch=("--hnt=nomultithread",)), (), "did you mean --hint?"),
        (
            "juwels-booster",
            SubmitOptions(),
            ("cluster.slurm.extra_sbatch=[--contraint=largedata]",),
            "sbatch has no option --contraint; did you mean --constraint",
        ),
        ("lumi-g", SubmitOptions(), ("cluster.software.container.image=null",), "needs an image"),
        (
            "local-slurm",
            SubmitOptions(nodes=1),
            ("parallel.dp=2",),
            "the job's ranks (1 node(s) x 1 task(s)) / (tp x pp x cp) = 1",
        ),
        ("local", SubmitOptions(), (), "has no Slurm"),
    ],
)
def test_bad_input_fails_before_submission(cluster, opts, overrides, message):
    with pytest.raises(ConfigError) as err:
        job_for(cluster, "train", opts, *overrides)
    assert message in str(err.value)


def test_missing_account_names_the_variable(monkeypatch):
    monkeypatch.delenv("BUDGET_ACCOUNTS")
    with pytest.raises(
        ConfigError, match=r"requires a compute account: pass --account or export BUDGET_ACCOUNTS"
    ):
        job_for("juwels-booster")


def test_cli_dry_run_prints_script_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = cli(
        [
            "submit",
            str(EXPERIMENT),
            "--cluster",
            "local-slurm",
            "--dry-run",
            "-t",
            "20",
            f"runs_dir={tmp_path}/runs",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("#!/bin/bash\n#SBATCH --job-name=demo-cpu-train\n#SBATCH --nodes=2\n")
    assert "#SBATCH --signal=B:USR1@60" in out and "srun --kill-on-bad-exit=1 " in out
    assert not (tmp_path / "runs").exists()


def test_cli_bad_input_exits_with_reason(tmp_path, capsys):
    code = cli(["submit", str(EXPERIMENT), "--cluster", "nosuchsite", "--dry-run"])
    assert code == 2 and "no cluster config named 'nosuchsite'" in capsys.readouterr().err
    code = cli(
        [
            "submit",
            str(EXPERIMENT),
            "--cluster",
            "local-slurm",
            "-p",
            "short",
            "-t",
            "2:00:00",
            f"runs_dir={tmp_path}",
        ]
    )
    assert code == 2 and "above the maximum of partition 'short' (00:30:00)" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_cli_chain_dry_run_orders_stages():
    code = cli(
        [
            "submit",
            str(EXPERIMENT),
            "--cluster",
            "local-slurm",
            "--dry-run",
            "--chain",
            "train,eval",
            "-t",
            "10",
        ]
    )
    assert code == 0
    bad = cli(["submit", str(EXPERIMENT), "--cluster", "local-slurm", "--dry-run", "--chain", "eval,train"])
    assert bad == 2
    missing = cli(
        ["submit", str(EXPERIMENT), "--cluster", "local-slurm", "--dry-run", "--chain", "prep,train"]
    )
    assert missing == 2


def test_cli_chain_with_data_stages_renders_one_node_jobs(capsys):
    code = cli(
        [
            "submit",
            str(EXPERIMENT),
            "--cluster",
            "local-slurm",
            "--dry-run",
            "--nodes",
            "2",
            "--chain",
            "prep,tokenizer,pack,train",
            "--prep-args",
            "--input raw/*.jsonl --output clean",
            "--tokenizer-args",
            "--corpus clean --output tok --vocab-size 8192",
            "--pack-args",
            "--corpus clean --tokenizer tok --output packed",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    for stage in ("prep --input", "tokenizer --corpus clean", "pack --corpus clean"):
        assert f"llm-train {stage}" in out
    # Data stages ignore --nodes: one process on one node; training keeps the user's nodes.
    assert out.count("#SBATCH --nodes=1") == 3 and "#SBATCH --nodes=2" in out


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 1800),
        ("1:30", 90),
        ("01:00:00", 3600),
        ("2-00:00:00", 172800),
        ("1-12", 129600),
        ("1-0:30", 88200),
    ],
)
def test_parse_time(text, seconds):
    assert parse_time(text) == seconds


def test_parse_time_unlimited_and_format():
    assert parse_time("INFINITE") is None and parse_time("UNLIMITED") is None
    assert format_time(172800 + 3661) == "2-01:01:01" and format_time(59) == "00:00:59"
    with pytest.raises(ValueError):
        parse_time("1:2:3:4")


@pytest.mark.parametrize(
    ("hostname", "site"),
    [
        ("jwlogin07.juwels", "juwels-booster"),
        ("uan01", "lumi-g"),
        ("laptop", None),
    ],
)
def test_detect_site(hostname, site):
    assert detect_site(CONFIGS, hostname) == site


def test_detect_site_refuses_ambiguous_patterns(tmp_path):
    (tmp_path / "cluster").mkdir()
    for name in ("a", "b"):
        (tmp_path / "cluster" / f"{name}.yaml").write_text('hostname_patterns: ["^login"]\n')
    with pytest.raises(ValueError, match="several cluster profiles: a, b"):
        detect_site(tmp_path, "login1")
