"""The whole flow, as `make demo` runs it, at a smaller size: every contract artefact checked.

scripts/demo.py runs prep → tokenizer → pack → train (2 processes, DeepSpeed) → eval → export
→ report through the `llm-train` CLI; then each artefact is read back by the library that
consumes it (megatron-core, transformers, Aim's UI over HTTP).
"""

from __future__ import annotations

import io
import json
import math
import subprocess
from pathlib import Path

import pytest

from tests.e2e_support import SAMPLE_LANGS, SMALL_VOCAB, get_json, search_runs, small_demo_cmd
from tests.helpers.aim_ui import Forwarder, socket_of, track_ui, wait_served

REPO = Path(__file__).resolve().parents[1]
LANGS = SAMPLE_LANGS
VOCAB = SMALL_VOCAB
STEPS = 30

pytestmark = [pytest.mark.slow, pytest.mark.aim, pytest.mark.distributed, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def flow(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("e2e")
    overrides = [
        f"train.steps={STEPS}",
        "train.log_every=5",
        "train.eval_every=15",
        "train.eval_iters=1",
        "train.warmup_steps=5",
        "train.seq_length=128",
        "checkpoint.every_steps=15",
    ]
    cmd = small_demo_cmd(root, "ci", overrides, "--max-docs 6")
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=540)
    work = root / "work" / "demo"
    if proc.returncode != 0:
        logs = "".join(
            f"\n---- {log.name} (last lines)\n"
            + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            for log in sorted((work / "logs").glob("*.log"))
        )
        pytest.fail(
            f"demo failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}{logs}"
        )
    return {
        "root": root,
        "stdout": proc.stdout,
        "clean": work / "clean",
        "tokenizer": work / "tokenizer",
        "packed": work / "packed",
        "hf": work / "hf",
        "run": root / "runs" / "demo-cpu" / "ci",
        "aim": root / "runs" / "aim",
    }


def read_zst_jsonl(path: Path) -> list[dict]:
    import zstandard

    with path.open("rb") as f:
        text = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(f), encoding="utf-8").read()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_demo_prints_every_stage_time_and_where_to_look(flow):
    out = flow["stdout"]
    for stage in ("prep", "tokenizer", "pack", "train", "eval", "export", "report"):
        assert f"$ llm-train {stage if stage != 'report' else 'eval report'}" in out
    # The flow ends with the AI Act training-content summary of the run.
    assert "$ llm-train report ai-act" in out
    assert (
        (flow["run"] / "ai-act" / "summary.md").read_text().startswith("# Public summary of training content")
    )
    assert "8/8 stages ok" in out
    assert f"llm-train track ui {flow['aim']}" in out
    assert "report.md" in out


def test_clean_corpus_and_data_card(flow):
    clean = flow["clean"]
    assert sorted(d.name for d in clean.iterdir() if (d / "train").is_dir()) == LANGS
    ids = set()
    for lang in LANGS:
        for split in ("train", "validation"):
            docs = [d for f in sorted((clean / lang / split).glob("*.jsonl.zst")) for d in read_zst_jsonl(f)]
            assert docs, f"{lang}/{split} is empty"
            for doc in docs:
                assert {"id", "text", "lang", "source", "meta"} <= doc.keys()
                assert doc["lang"] == lang and doc["text"].strip()
                assert doc["id"] not in ids
                ids.add(doc["id"])
    stats = json.loads((clean / "stats.json").read_text())
    assert stats["totals"]["docs_out"] == len(ids) < stats["totals"]["docs_in"]
    card = (clean / "DATACARD.md").read_text()
    assert all(lang in card for lang in LANGS)


def test_tokenizer_loads_in_transformers(flow):
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(flow["tokenizer"])
    assert len(tok) == VOCAB
    text = "Die Funktion gibt einen Wert zurück. La fonction renvoie une valeur."
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text


def test_packed_data_is_read_by_megatron_core(flow):
    import yaml
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    meta = json.loads((flow["tokenizer"] / "llm_train_tokenizer.json").read_text())
    mixture = yaml.safe_load((flow["packed"] / "mixture.yaml").read_text())
    assert sorted(d["lang"] for d in mixture["datasets"]) == LANGS
    assert math.isclose(sum(d["weight"] for d in mixture["datasets"]), 1.0, rel_tol=1e-6)
    for entry in mixture["datasets"]:
        ds = IndexedDataset(str(flow["packed"] / entry["prefix"]))
        assert len(ds) == entry["documents"] > 0
        assert int(ds.sequence_lengths.sum()) == entry["tokens"]
        first = ds[0]
        assert int(first[-1]) == meta["eod_id"]  # documents end with the tokenizer's EOD
        assert int(max(ds[i].max() for i in range(len(ds)))) < VOCAB


def test_run_dir_checkpoints_and_metrics(flow):
    import yaml

    run = flow["run"]
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["train"]["steps"] == STEPS
    assert len((run / "config.sha256").read_text().strip()) == 64
    ckpts = run / "checkpoints"
    steps = sorted(int(p.name.split("-")[1]) for p in ckpts.glob("step-*") if p.is_dir())
    assert steps and steps[-1] == STEPS
    for step in steps:
        marker = json.loads((ckpts / f"step-{step}.ready.json").read_text())
        assert marker["step"] == step
    assert (ckpts / "latest").read_text().strip() == f"step-{STEPS}"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["metrics"]["loss"] for r in records if r.get("context", {}).get("subset") == "train"]
    assert len(losses) == STEPS // 5
    assert losses[-1] < losses[0] - 0.3, losses  # it learns
    assert any(r.get("context", {}).get("subset") == "valid" for r in records)


def test_eval_results(flow):
    lines = (flow["run"] / "evals" / "results.jsonl").read_text().splitlines()
    results = [r for r in map(json.loads, lines) if r["kind"] == "result"]
    assert results and results[-1]["step"] == STEPS
    bpb = results[-1]["bpb"]
    assert sorted(bpb["languages"]) == LANGS
    for lang, v in bpb["languages"].items():
        assert 0 < v["bpb"] < 12, (lang, v)
    tasks = results[-1]["task_results"]["continuation"]
    assert tasks and all(0 <= v["acc"] <= 1 and v["n"] > 0 for v in tasks.values())


def test_hf_export_loads_in_transformers(flow):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(flow["hf"]).eval()
    tok = AutoTokenizer.from_pretrained(flow["hf"])
    assert model.config.model_type == "llama" and model.config.vocab_size >= VOCAB
    doc = read_zst_jsonl(next((flow["clean"] / "de" / "validation").glob("*.jsonl.zst")))[0]["text"]
    ids = torch.tensor([tok.encode(doc, add_special_tokens=False)[:128]])
    with torch.no_grad():
        loss = model(ids, labels=ids).loss.item()
    # Trained, so better than a uniform guess over the vocabulary.
    assert loss < math.log(VOCAB) - 0.3, loss
    out = model.generate(ids[:, :8], max_new_tokens=4, do_sample=False)
    assert out.shape == (1, 12)


def test_report_has_png_plots(flow):
    report = flow["run"] / "evals" / "report"
    assert (report / "report.md").read_text().strip()
    pngs = sorted(report.glob("*.png"))
    assert {p.name for p in pngs} >= {"loss_vs_tokens.png", "bpb_vs_tokens.png"}
    for png in pngs:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


def test_aim_ui_lists_the_run_and_its_metrics(flow):
    run_hash = json.loads((flow["run"] / "aim.json").read_text())["run_hash"]
    # What a user does: `llm-train track ui` on its private socket, reached through a forwarded port.
    with track_ui(str(flow["aim"]), log=flow["root"] / "track-ui.log") as (_, output):
        wait_served(socket_of(output))
        forward = Forwarder(socket_of(output))
        try:
            base = f"http://127.0.0.1:{forward.port}"
            runs = search_runs(base, 'run.experiment == "demo-cpu"')
            assert run_hash in runs, list(runs)
            names = {t["name"] for t in runs[run_hash]["traces"]["metric"]}
            assert {"loss", "lr", "grad_norm", "bpb"} <= names, names
            info = get_json(base, f"/api/runs/{run_hash}/info/")
            assert info["props"]["experiment"]["name"] == "demo-cpu"
            assert (
                info["params"]["hparams"]["config_sha256"]
                == (flow["run"] / "config.sha256").read_text().strip()
            )
            langs = {t["context"].get("lang") for t in info["traces"]["metric"] if t["name"] == "bpb"}
            assert set(LANGS) <= langs, langs
        finally:
            forward.close()
