"""The scorer, bits-per-byte and `llm-train eval run` on tiny real checkpoints."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

from evals.bpb import score_texts
from evals.cli import main as eval_main
from evals.loading import load_model
from evals.results import read_records
from evals.scorer import Scorer, rolling_pairs
from evals.tokenizer import encode_pair, load_eval_tokenizer
from tests.test_eval_support import REPO, sample_texts, world, write_checkpoint


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return world(tmp_path_factory.mktemp("eval"), steps=(10,))


def test_rolling_pairs_predict_every_token_once_within_the_window():
    ids = list(range(100, 137))
    for max_len, stride in [(8, 4), (8, 8), (8, 1), (64, 32)]:
        pairs = rolling_pairs(7, ids, max_len, stride)
        targets = [t for _, cont in pairs for t in cont]
        assert targets == ids
        full = [7, *ids]
        for ctx, cont in pairs:
            assert ctx and len(ctx[-max_len:]) + len(cont) <= max_len + 1
            pos = full.index(cont[0])
            assert full[pos - len(ctx) : pos] == ctx  # the context is the text right before


def test_scorer_matches_a_plain_full_forward(tiny):
    tok = load_eval_tokenizer(tiny["tokenizer"])
    model, _ = load_model(tiny["run_dir"] / "checkpoints" / "step-10", "cpu")
    ids = tok.encode(sample_texts("de", 1)[0])[:100]
    with torch.no_grad():
        x = torch.tensor([[tok.prefix_id, *ids]])
        logprobs = torch.log_softmax(model(input_ids=x).logits[0, :-1, :384].float(), -1)
        expected = -logprobs.gather(1, torch.tensor(ids)[:, None]).sum().item()
    assert model.config.vocab_size == 448  # padded rows exist and are left out of the softmax
    full = Scorer(model, tok.prefix_id, 128, 3, progress=False, vocab_size=384).text_nll(ids)
    assert full == pytest.approx(expected, rel=1e-5)
    # A short window still predicts every token, with less context: finite and different.
    windowed = Scorer(model, tok.prefix_id, 16, 3, progress=False, vocab_size=384).text_nll(ids, stride=8)
    assert math.isfinite(windowed) and abs(windowed - expected) > 1e-3


def test_batch_size_does_not_change_scores_and_greedy_flag(tiny):
    tok = load_eval_tokenizer(tiny["tokenizer"])
    model, _ = load_model(tiny["run_dir"] / "checkpoints" / "step-10", "cpu")
    texts = sample_texts("fr", 6)
    requests = [encode_pair(tok, t[:80], t[80:140]) for t in texts]
    one = Scorer(model, tok.prefix_id, 64, 1, progress=False).loglikelihood_tokens(requests)
    many = Scorer(model, tok.prefix_id, 64, 5, progress=False).loglikelihood_tokens(requests)
    assert [r[0] for r in one] == pytest.approx([r[0] for r in many], abs=1e-4)
    ctx = requests[0][0]
    with torch.no_grad():
        greedy = int(model(input_ids=torch.tensor([ctx])).logits[0, -1].argmax())
    scorer = Scorer(model, tok.prefix_id, 64, 2, progress=False)
    (_, is_greedy), (_, not_greedy) = scorer.loglikelihood_tokens(
        [(ctx, [greedy]), (ctx, [(greedy + 1) % 300])]
    )
    assert is_greedy and not not_greedy


def test_bpb_of_native_checkpoint_and_its_hf_export_agree(tiny, tmp_path):
    ckpt = tiny["run_dir"] / "checkpoints" / "step-10"
    model, info = load_model(ckpt, "cpu")
    assert info["kind"] == "native-hf"
    export = tmp_path / "hf-export"
    model.save_pretrained(str(export))
    common = [
        "--corpus",
        str(tiny["corpus"]),
        "--tokenizer",
        str(tiny["tokenizer"]),
        "--no-generated-tasks",
        "--max-docs",
        "3",
        "--no-track",
    ]
    assert eval_main(["run", str(ckpt), *common, "--output", str(tmp_path / "native.jsonl")]) == 0
    assert eval_main(["run", str(export), *common, "--output", str(tmp_path / "hf.jsonl")]) == 0
    [native] = read_records(tmp_path / "native.jsonl")
    [hf] = read_records(tmp_path / "hf.jsonl")
    assert hf["model"]["kind"] == "hf"
    langs = native["bpb"]["languages"]
    assert set(langs) == {"de", "fr", "it"}
    for lang, v in langs.items():
        assert v["bytes"] > 1000 and v["bpb"] > 0
        assert abs(v["bpb"] - hf["bpb"]["languages"][lang]["bpb"]) < 1e-4
        assert v["token_ppl"] == pytest.approx(math.exp(v["nll"] / v["tokens"]))
    # An untrained model is near uniform: bpb ~ log2(vocab) * tokens / bytes.
    tok = load_eval_tokenizer(tiny["tokenizer"])
    scorer = Scorer(model, tok.prefix_id, 128, 4, progress=False, vocab_size=384)
    score = score_texts(scorer, tok, sample_texts("it", 2), 512)
    assert score.bpb == pytest.approx(math.log2(384) * score.tokens / score.bytes, rel=0.05)


@pytest.mark.slow
def test_megatron_checkpoint_and_its_hf_export_score_like_the_native_one(tiny, tmp_path):
    """The same weights as a megatron dist checkpoint (read through llm_train.convert) and as the
    `llm-train export --to hf` of that checkpoint (real vocabulary only) give the native BPB."""
    from llm_train.cli.export import main as export_main

    ckpt = tiny["run_dir"] / "checkpoints" / "step-10"
    mega = tmp_path / "megatron" / "step-10"
    # megatron's checkpoint writer calls CUDA on a CPU-only torch: write it in a child process
    # with the test shim (reading, as evals do, needs no shim).
    script = f"""
import json, pathlib, torch
from safetensors.torch import load_file
from tests.megatron_cpu_shim import apply
apply()
from llm_train.config.model import ModelConfig
from llm_train.convert.llama import hf_to_megatron
from llm_train.convert.megatron_io import write_model_checkpoint
ckpt = pathlib.Path({str(ckpt)!r})
spec = ModelConfig(**json.loads((ckpt / "model_config.json").read_text()))
state = load_file(str(ckpt / "model.safetensors"))
state.setdefault("lm_head.weight", state["model.embed_tokens.weight"])
write_model_checkpoint(hf_to_megatron(state, spec), pathlib.Path({str(mega)!r}), spec)
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    export = tmp_path / "hf-from-megatron"
    assert export_main(["--to", "hf", str(mega), str(export), "--tokenizer", str(tiny["tokenizer"])]) == 0
    common = [
        "--corpus",
        str(tiny["corpus"]),
        "--no-generated-tasks",
        "--max-docs",
        "2",
        "--languages",
        "fr",
        "--no-track",
        "--tokenizer",
        str(tiny["tokenizer"]),
    ]
    bpb = {}
    for name, path in [("native", ckpt), ("megatron", mega), ("export", export)]:
        assert eval_main(["run", str(path), *common, "--output", str(tmp_path / f"{name}.jsonl")]) == 0
        [record] = read_records(tmp_path / f"{name}.jsonl")
        bpb[name] = record["bpb"]["languages"]["fr"]["bpb"]
        assert (
            record["model"]["kind"] == {"native": "native-hf", "megatron": "megatron", "export": "hf"}[name]
        )
    assert abs(bpb["megatron"] - bpb["native"]) < 1e-4 and abs(bpb["export"] - bpb["native"]) < 1e-4


def test_bad_checkpoints_are_reported_and_skipped(tiny, tmp_path, capsys):
    run_dir = tiny["run_dir"]
    spec_json = json.loads((run_dir / "checkpoints" / "step-10" / "model_config.json").read_text())
    from llm_train.config.model import ModelConfig

    write_checkpoint(run_dir, 30, ModelConfig(**spec_json), ready=False)  # partial: no marker
    corrupt = write_checkpoint(run_dir, 40, ModelConfig(**spec_json))
    (corrupt / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    (run_dir / "checkpoints" / "step-50.ready.json").write_text("{}")  # marker without dir
    rc = eval_main(["run", str(run_dir), "--all", "--no-track", "--max-docs", "2", "--languages", "de"])
    out = capsys.readouterr()
    assert rc == 1  # the corrupt one
    assert "step-30: no ready marker" in out.err and "step-50: ready marker but no checkpoint dir" in out.err
    records = read_records(run_dir / "evals" / "results.jsonl")
    by_step = {r["step"]: r for r in records}
    assert by_step[10]["kind"] == "result" and set(by_step[10]["bpb"]["languages"]) == {"de"}
    assert by_step[10]["task_results"]["continuation"]["de"]["n"] > 0
    assert by_step[40]["kind"] == "failure" and "cannot load" in by_step[40]["error"]
    assert 30 not in by_step and 50 not in by_step
    assert by_step[10]["tokenizer"]["bos_policy"] == "eod" and by_step[10]["tasks"][0]["sha256"]
    assert by_step[10]["eval_version"] and by_step[10]["tokens"] == 10 * 4 * 64
    # Only the latest ready one asked for: incomplete others are noted, not an error.
    (run_dir / "checkpoints" / "latest").write_text("step-10\n")
    assert eval_main(["run", str(run_dir), "--no-track", "--max-docs", "1", "--languages", "de"]) == 0
    assert eval_main(["run", str(run_dir), "--step", "30", "--no-track"]) == 1
    assert "step-30: no ready marker" in capsys.readouterr().err
