"""`make demo-slurm` at a small size: prep -> tokenizer -> pack -> train -> eval as one afterok chain
on the real local Slurm cluster, the train job spanning both emulated nodes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e_support import SAMPLE_LANGS as LANGS
from tests.e2e_support import small_demo_cmd

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.timeout(900)]
STEPS = 20


def test_demo_chain_runs_every_stage_on_slurm(slurm_cluster, tmp_path):
    overrides = [
        f"train.steps={STEPS}",
        "train.eval_every=0",
        "train.warmup_steps=5",
        "train.seq_length=128",
        "checkpoint.every_steps=10",
    ]
    cmd = [*small_demo_cmd(tmp_path, "chain", overrides, "--max-docs 4 --no-generated-tasks"), "--slurm"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=840)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "chain finished" in proc.stdout

    run_dir = tmp_path / "runs" / "demo-cpu" / "chain"
    events = [json.loads(line) for line in (run_dir / "slurm" / "events.jsonl").read_text().splitlines()]
    finished = [e for e in events if e["event"] == "finished"]
    # prep, tokenizer and pack, then train and eval, each exactly once and in order.
    assert [e["kind"] for e in finished] == ["prep", "tokenizer", "pack", "train", "eval"]
    assert all(e["exit_code"] == 0 for e in finished)
    train_start = next(e for e in events if e["event"] == "started" and e["kind"] == "train")
    assert train_start["num_nodes"] == 2 and train_start["checkpoint"] == "none"
    steps = [
        json.loads(line)["step"]
        for line in (run_dir / "metrics.jsonl").read_text().splitlines()
        if '"subset": "train"' in line
    ]
    assert max(steps) == STEPS
    assert (run_dir / "checkpoints" / "latest").read_text().strip() == f"step-{STEPS}"
    records = [json.loads(line) for line in (run_dir / "evals" / "results.jsonl").read_text().splitlines()]
    assert records and set(records[-1]["bpb"]["languages"]) == set(LANGS)
    # Four rendered scripts; the eval stage is a submitit function job with its script in slurm/eval/.
    assert len(list((run_dir / "slurm").glob("*.sbatch"))) == 4
    assert len(list((run_dir / "slurm" / "eval").glob("*/*_submission.sh"))) == 1
