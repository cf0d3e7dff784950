"""The real lm-evaluation-harness runs local tasks through the `llm_train` model type, offline, and
its log-likelihoods equal our own scorer's on the same inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from evals.bpb import score_texts
from evals.loading import load_model
from evals.scorer import Scorer
from evals.tasks.format import load_task_file
from evals.tasks.mc import choice_loglikelihoods
from evals.tokenizer import load_eval_tokenizer
from tests.test_eval_support import REPO, sample_texts, world

MC_YAML = """task: llm_train_local_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {mc}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{context}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{gold}}}}"
metric_list:
  - metric: acc
  - metric: acc_norm
"""
PPL_YAML = """task: llm_train_local_ppl
dataset_path: json
dataset_kwargs:
  data_files:
    test: {docs}
test_split: test
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: "{{{{text}}}}"
metric_list:
  - metric: bits_per_byte
"""
GEN_YAML = """task: llm_train_local_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {mc}
test_split: test
output_type: generate_until
doc_to_text: "{{{{context}}}}"
doc_to_target: "{{{{choices[gold]}}}}"
generation_kwargs:
  until: ["."]
  max_gen_toks: 6
metric_list:
  - metric: exact_match
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lmeval")
    w = world(tmp, steps=(10,))
    from evals.cli import main as eval_main

    mc = tmp / "mc.jsonl"
    assert (
        eval_main(["make-tasks", "--corpus", str(w["corpus"]), "--output", str(mc), "--per-language", "3"])
        == 0
    )
    docs = tmp / "docs.jsonl"
    texts = sample_texts("de", 3)
    docs.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    tasks = tmp / "tasks"
    tasks.mkdir()
    (tasks / "mc.yaml").write_text(MC_YAML.format(mc=mc))
    (tasks / "ppl.yaml").write_text(PPL_YAML.format(docs=docs))
    (tasks / "gen.yaml").write_text(GEN_YAML.format(mc=mc))
    return {**w, "mc": mc, "texts": texts, "tasks": tasks}


@pytest.mark.slow
def test_lm_eval_loglikelihoods_equal_our_scorer(harness, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import lm_eval
    from lm_eval.tasks import TaskManager

    import evals.lm_eval_backend  # noqa: F401  (registers --model llm_train)

    args = f"checkpoint={harness['run_dir']},device=cpu"
    out = lm_eval.simple_evaluate(
        model="llm_train",
        model_args=args,
        tasks=["llm_train_local_mc", "llm_train_local_ppl", "llm_train_local_gen"],
        task_manager=TaskManager(include_path=str(harness["tasks"])),
        log_samples=True,
        batch_size=3,
    )
    tok = load_eval_tokenizer(harness["tokenizer"])
    model, _ = load_model(harness["run_dir"] / "checkpoints" / "step-10", "cpu")
    scorer = Scorer(model, tok.prefix_id, 128, 4, progress=False, vocab_size=384)

    # multiple choice: per-choice log-likelihoods, sample by sample
    examples = load_task_file(harness["mc"]).examples
    ours = choice_loglikelihoods(scorer, tok, examples)
    samples = sorted(out["samples"]["llm_train_local_mc"], key=lambda s: s["doc_id"])
    assert len(samples) == len(examples) == 9
    for sample, ll in zip(samples, ours, strict=True):
        theirs = [float(r[0][0]) for r in sample["resps"]]
        assert theirs == pytest.approx(ll, abs=1e-4)
    assert 0.0 <= out["results"]["llm_train_local_mc"]["acc,none"] <= 1.0

    # rolling: lm-eval's bits_per_byte equals ours on the same documents
    mine = score_texts(scorer, tok, harness["texts"], max_tokens=10**9)
    assert out["results"]["llm_train_local_ppl"]["bits_per_byte,none"] == pytest.approx(mine.bpb, rel=1e-5)

    # generation: greedy, equal to transformers' own greedy decoding cut at the stop sequence
    gen = sorted(out["samples"]["llm_train_local_gen"], key=lambda s: s["doc_id"])[0]
    ctx = [tok.prefix_id, *tok.encode(examples[0].context)]
    padding = list(range(384, model.config.vocab_size))  # not tokens: our backend never emits them
    ref = model.generate(
        torch.tensor([ctx]),
        max_new_tokens=6,
        do_sample=False,
        eos_token_id=tok.eod_id,
        pad_token_id=tok.eod_id,
        suppress_tokens=padding,
    )
    expected = tok.decode(ref[0, len(ctx) :].tolist()).split(".")[0]
    assert gen["resps"][0][0] == expected


@pytest.mark.slow
def test_lm_eval_command_line_runs_our_model_offline(harness, tmp_path):
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "evals.lm_eval_cli",
        "run",
        "--model",
        "llm_train",
        "--model_args",
        f"checkpoint={harness['run_dir']},tokenizer={harness['tokenizer']}",
        "--tasks",
        "llm_train_local_mc",
        "--include_path",
        str(harness["tasks"]),
        "--output_path",
        str(tmp_path / "out"),
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [result] = list((tmp_path / "out").rglob("results_*.json"))
    assert "acc,none" in json.loads(result.read_text())["results"]["llm_train_local_mc"]
