"""Data rights end to end on a real tiny run: documents planted in a corpus, packed, trained on for a
few DeepSpeed CPU steps; lineage checked against megatron-core's own view of every sample; the AI
Act summary of the run; erasure names the checkpoints that saw the planted documents and leaves no
trace of them in the corpus or the packed data."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import yaml

from llm_train.cli.main import main as cli
from llm_train.lineage.docmap import DocMap
from llm_train.lineage.trace import RunLineage
from tests.helpers.rights import PLANTED, PLANTED_URL, build_data, corpus_lines, train_tiny

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
PREFIXES = ("de_text_document", "fr_text_document")


def _contains(tokens: np.ndarray, needle: np.ndarray) -> bool:
    if len(tokens) < len(needle):
        return False
    windows = np.lib.stride_tricks.sliding_window_view(tokens, len(needle))
    return bool((windows == needle).all(axis=1).any())


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rights")
    paths = build_data(tmp)
    run = train_tiny(tmp, paths["mixture"])
    return tmp, paths, run, megatron_truth(run, tmp)


def _corpus_order(clean: Path) -> dict[str, dict[int, str]]:
    """Document index -> id per language, from the clean corpus in pack's order (independent of
    the document map): every train file of a language, sorted, documents in file order."""
    import zstandard

    order: dict[str, dict[int, str]] = {}
    for lang_dir in sorted(p for p in clean.iterdir() if (p / "train").is_dir()):
        ids = []
        for path in sorted((lang_dir / "train").glob("*.jsonl.zst")):
            text = zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read().decode()
            ids += [json.loads(line)["id"] for line in text.splitlines() if line.strip()]
        order[lang_dir.name] = dict(enumerate(ids))
    return order


def megatron_truth(run: Path, tmp: Path) -> dict:
    """What megatron-core itself says each global sample of the run holds: {x: [(lang, doc id,
    input tokens)]}, through the trainer's own PackedData and GPTDataset's document query."""
    code = f"""
import json, sys, torch.distributed as dist
from llm_train.config.loader import load_config
from llm_train.data.loader import PackedData
from llm_train.data.mixture import load_mixture
dist.init_process_group("gloo", init_method="file://{tmp}/pg", rank=0, world_size=1)
cfg = load_config("{run}").config
state = json.load(open("{run}/checkpoints/step-6/trainer_state.json"))
data = PackedData(cfg, load_mixture(cfg.data.mixture), __import__("pathlib").Path("{run}/data_index"))
blend = data.train(cfg.train.steps, 0, 1, state["trainer"]["written_with"]["data_samples"]).dataset
names = [d.name for d in load_mixture(cfg.data.mixture).sampled]
out = {{}}
for x in range(state["data"]["consumed_samples"]):
    k, j = int(blend.dataset_index[x]), int(blend.dataset_sample_index[x])
    ds = blend.datasets[k]
    idx = ds.shuffle_index[j]
    b, bo = ds.sample_index[idx]; e, eo = ds.sample_index[idx + 1]
    parts = []
    for pos in range(int(b), int(e) + 1):
        doc = int(ds.document_index[pos])
        start = int(bo) if pos == b else 0
        end = int(eo) if pos == e else int(ds.dataset.sequence_lengths[doc])
        if end > start:
            parts.append([names[k], doc, end - start])
    out[x] = parts
json.dump(out, sys.stdout)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    raw = json.loads(proc.stdout)
    order = _corpus_order(tmp / "clean")
    return {int(x): [(lang, order[lang][doc], n) for lang, doc, n in parts] for x, parts in raw.items()}


def test_lineage_agrees_with_megatron_on_every_sample(flow):
    _, _, run, truth = flow
    lineage = RunLineage(run)
    assert lineage.problems() == []
    assert [c.step for c in lineage.timeline.checkpoints] == [3, 6]
    gbs = 8
    for step in range(1, 7):
        docs = lineage.step_documents(step)
        got = defaultdict(list)
        for d in docs:
            got[d.sample].append((d.dataset, d.doc_id, d.tokens))
        want = {x: truth[x] for x in range((step - 1) * gbs, step * gbs)}
        assert dict(got) == want, step
    # Forward: every document megatron put in a sample is traced to that sample's step.
    seen: dict[str, set[int]] = defaultdict(set)
    for x, parts in truth.items():
        for _, doc_id, _ in parts:
            seen[doc_id].add(x // gbs + 1)
    sample_ids = sorted(seen)[:: max(1, len(seen) // 15)] + list(PLANTED)
    traces = {t.doc_id: t for t in lineage.trace(lineage.find(ids=sample_ids))}
    for doc_id in sample_ids:
        steps = {r.step for r in traces[doc_id].readings}
        assert steps == seen.get(doc_id, set()), doc_id
        tokens = sum(n for parts in truth.values() for _, d, n in parts if d == doc_id)
        assert traces[doc_id].tokens == tokens
        first = min(seen[doc_id]) if doc_id in seen else None
        assert traces[doc_id].first_step == first
        assert set(traces[doc_id].checkpoints) == {s for s in (3, 6) if first is not None and first <= s}


def test_lineage_cli(flow, capsys):
    _, paths, run, truth = flow
    assert cli(["data", "lineage", str(run), "--step", "2"]) == 0
    out = capsys.readouterr().out
    for _, doc_id, _ in truth[8]:
        assert doc_id in out
    assert cli(["data", "lineage", str(run.parent.parent), "--url", PLANTED_URL, "--json"]) == 0
    [record] = json.loads(capsys.readouterr().out)
    [doc] = record["documents"]
    assert doc["id"] == "planted-de-1" and doc["source"] == "letters"
    ids = paths["clean"].parent / "ids.txt"
    ids.write_text("planted-fr-1\nno-such-document\n")
    assert cli(["data", "lineage", str(run), "--ids-file", str(ids)]) == 0
    out = capsys.readouterr().out
    assert "document no-such-document: not in this run's data" in out and "planted-fr-1" in out
    assert cli(["data", "lineage", str(run), "--source", "letters"]) == 0
    assert "source letters: 2 document(s) in the blend" in capsys.readouterr().out


def test_lineage_bad_input_is_a_clear_error(flow, tmp_path, capsys):
    _, _, run, _ = flow
    assert cli(["data", "lineage", str(run), "--step", "99"]) == 1
    assert "step 99 is not on the run's trajectory" in capsys.readouterr().err
    # A run dir without its data index.
    broken = tmp_path / "t" / "copy"
    broken.mkdir(parents=True)
    (broken / "config.yaml").write_text((run / "config.yaml").read_text())
    assert cli(["data", "lineage", str(broken), "--id", "de-0"]) == 1
    assert "has no data index" in capsys.readouterr().err


def test_ai_act_summary_of_the_run(flow, tmp_path, capsys):
    tmp, paths, run, truth = flow
    out = tmp_path / "aiact"
    # A corpus that moved after packing: a clear error naming it, nothing written.
    moved = paths["clean"].with_name("clean-moved")
    paths["clean"].rename(moved)
    try:
        assert cli(["report", "ai-act", str(run), "--output", str(out)]) == 1
        assert (
            f"the corpus {paths['clean']} that dataset de was packed from is gone" in capsys.readouterr().err
        )
        assert not out.exists()
    finally:
        moved.rename(paths["clean"])
    assert cli(["report", "ai-act", str(run), "--output", str(out), "--strict"]) == 2
    err = capsys.readouterr().err
    assert "provider.name: missing" in err and "sources.letters.category: missing" in err
    assert not out.exists()
    info = tmp_path / "info.yaml"
    info.write_text(
        yaml.safe_dump(
            {
                "provider": {
                    "name": "Example Consortium",
                    "contact": "ai@example.org",
                    "authorised_representative": "n/a",
                },
                "model": {
                    "dependencies": "none",
                    "placed_on_market": "2027-01-01",
                    "data_collection_end": "2026-12-01",
                    "content_types": "synthetic sentences, letters",
                    "continuous_training": False,
                },
                "sources": {
                    "letters": {"category": "private", "description": "letters"},
                    "synthetic-*": {"category": "synthetic"},
                },
                "user_data": {"used": False},
                "synthetic_data": {"used": True, "description": "word patterns"},
                "other_data": {"used": False},
                "code_of_practice_signatory": False,
                "illegal_content": "test data only",
            }
        )
    )
    assert (
        cli(
            [
                "report",
                "ai-act",
                str(run),
                "--output",
                str(out),
                "--info",
                str(info),
                "--model-name",
                "tiny",
                "--strict",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    consumed = 6 * 8 * 64
    assert summary["general"]["training_data_size"]["text"] == {
        "tokens": consumed,
        "range": "Less than 1 billion tokens",
    }
    by_lang = {x["lang"]: x["tokens"] for x in summary["general"]["languages"]}
    assert sum(by_lang.values()) == consumed
    want = defaultdict(int)
    for parts in truth.values():
        for lang, _, n in parts:
            want[lang] += n
    assert by_lang == dict(want)
    assert [d["name"] for d in summary["sources"]["private"]["datasets"]] == ["letters"]
    assert {d["name"] for d in summary["sources"]["synthetic"]["datasets"]} == {
        "synthetic-de",
        "synthetic-fr",
    }
    assert summary["processing"]["tdm"]["checked_corpora"] == ["clean"]
    assert summary["missing"] == []
    md = (out / "summary.md").read_text()
    for heading in (
        "## 1. General information",
        "## 2. List of data sources",
        "### 3.1 Respect of reservation",
    ):
        assert heading in md
    assert "Example Consortium" in md and "To be completed" not in md


def test_erase_names_the_checkpoints_and_leaves_no_trace(flow, capsys):
    tmp, paths, run, truth = flow
    clean, packed = paths["clean"], paths["packed"]
    before = json.loads((clean / "stats.json").read_text())
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(str(paths["tokenizer"]))
    needles = [np.asarray(tok.encode(text[:30]), dtype=np.uint16) for _, text in PLANTED.values()]
    for needle in needles:  # the test can fail: the planted text is in the packed data before
        assert any(_contains(np.fromfile(packed / f"{p}.bin", np.uint16), needle) for p in PREFIXES)
    docs_before = {
        n: d["documents"] for n, d in json.loads((packed / "pack_stats.json").read_text())["datasets"].items()
    }
    # Nothing matched: an error, nothing written.
    assert cli(["data", "erase", "--corpus", str(clean), "--ids", "nobody", "--no-progress"]) == 1
    assert "matched no document" in capsys.readouterr().err
    assert json.loads((clean / "stats.json").read_text()) == before
    argv = [
        "data",
        "erase",
        "--corpus",
        str(clean),
        "--ids",
        "planted-de-1",
        "--match",
        r"jean\.dupont@example\.net",
        "--runs",
        str(tmp / "runs"),
        "--no-progress",
        "--json",
    ]
    assert cli(argv) == 0
    [result] = json.loads(capsys.readouterr().out)
    [report] = result["reports"]
    # The checkpoints that saw a planted document, from megatron's samples and each checkpoint's position.
    first = {d: min(x for x, parts in truth.items() if any(p[1] == d for p in parts)) for d in PLANTED}
    consumed = {3: 24, 6: 48}
    want = {s: sum(1 for x in first.values() if x < c) for s, c in consumed.items()}
    assert {c["step"]: c["documents"] for c in report["checkpoints"]} == {s: n for s, n in want.items() if n}
    assert report["clean_checkpoints"] == [s for s, n in want.items() if not n]
    assert report["consumed"] == 2 and report["run"] == str(run)
    # No trace in any copy the corpus keeps, nor in the packed data.
    lines = corpus_lines(clean)
    assert not [
        d for d in lines if d["id"] in PLANTED or "Jane Doe" in d["text"] or "jean.dupont" in d["text"]
    ]
    for name, prefix in (("de", "de_text_document"), ("fr", "fr_text_document")):
        dm = DocMap.for_prefix(packed / prefix)
        dm.check_idx()
        assert dm.documents == docs_before[name] - 1
        assert not dm.find_id(f"planted-{name}-1")
    for needle in needles:
        assert not any(_contains(np.fromfile(packed / f"{p}.bin", np.uint16), needle) for p in PREFIXES)
    mixture = yaml.safe_load(paths["mixture"].read_text())
    assert {d["name"]: d["documents"] for d in mixture["datasets"]} == {
        n: v - 1 for n, v in docs_before.items()
    }
    # stats.json and the data card stay true; the log holds hashes only.
    after = json.loads((clean / "stats.json").read_text())
    assert after["totals"]["docs_out"] == before["totals"]["docs_out"] - 2
    assert after["drop_reasons"]["erased"]["docs"] == 2
    assert sum(after["languages"][lang]["docs"] for lang in ("de", "fr")) == before["totals"]["docs_out"] - 2
    assert "## Erasures after prep" in (clean / "DATACARD.md").read_text()
    log = (clean / "erasures.jsonl").read_text()
    assert len(log.splitlines()) == 1
    assert "planted" not in log and "dupont" not in log and "example.net" not in log
    record = json.loads(log)
    assert record["matched"]["documents"] == 2 and record["config_sha256"] == before["config_sha256"]
    assert not (clean / ".erase" / "pending.json").exists()
    # Again: recognised, nothing changes.
    assert cli(argv[:-1]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert (clean / "erasures.jsonl").read_text() == log
    # Lineage still traces the erased documents to the run through the archived maps, urls redacted.
    traces = {t.doc_id: t for t in RunLineage(run).trace(RunLineage(run).find(ids=list(PLANTED)))}
    assert set(traces) == set(PLANTED) and all(t.url is None for t in traces.values())
