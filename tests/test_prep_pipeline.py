"""`llm-train prep` end to end: outputs, stats, data card, dedup across shards, reruns, config errors."""

from __future__ import annotations

import json

import pytest
import zstandard

from data_prep.cli.prep import main as prep_main
from data_prep.pipeline.stage_write import is_validation
from tests.prep_support import TEST_CONFIG, make_corpus, tree_bytes


def output_docs(out):
    docs = {}
    for path in sorted(out.glob("*/*/part-*.jsonl.zst")):
        with zstandard.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                doc = json.loads(line)
                lang, split = path.parts[-3], path.parts[-2]
                assert doc["lang"] == lang
                docs[doc["id"]] = (lang, split, doc)
    return docs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    planted = make_corpus(root / "in", shards=4, per_shard=12)
    config = root / "prep.yaml"
    config.write_text(TEST_CONFIG, encoding="utf-8")
    return root, planted, config


@pytest.fixture(scope="module")
def clean_run(corpus, tmp_path_factory):
    root, planted, config = corpus
    out = tmp_path_factory.mktemp("out") / "clean"
    rc = prep_main(
        [
            "--input",
            str(root / "in" / "*.jsonl.gz"),
            "--output",
            str(out),
            "--config",
            str(config),
            "--no-progress",
        ]
    )
    assert rc == 0
    return out


def test_outputs_stats_and_datacard(corpus, clean_run):
    _, planted, _ = corpus
    out = clean_run
    docs = output_docs(out)
    stats = json.loads((out / "stats.json").read_text())
    # Planted copies collapse to one: the earlier original stays, the later copy goes.
    for original, copy in planted["exact"] + planted["near"]:
        assert original in docs and copy not in docs, (original, copy)
    reasons = stats["drop_reasons"]
    assert reasons["dedup_exact"]["docs"] >= len(planted["exact"])
    assert reasons["dedup_near"]["docs"] >= len(planted["near"])
    assert reasons["read_invalid_json"]["docs"] == 4
    assert reasons["test_min_words_short"]["docs"] == 4
    assert reasons["test_min_words_short"]["by_lang"] == {"de": 4}
    t = stats["totals"]
    assert t["docs_in"] == 4 * 12 + 3 * 2 + 4 * 2
    assert t["docs_out"] == len(docs) == t["docs_in"] - sum(r["docs"] for r in reasons.values())
    assert t["bytes_out"] == sum(len(d["text"].encode()) for _, _, d in docs.values())
    # Per language: the languages the documents declared, with a stable validation split.
    langs = stats["languages"]
    assert set(langs) == {lang for lang, _, _ in docs.values()} and len(langs) > 3
    for doc_id, (_lang, split, doc) in docs.items():
        assert (split == "validation") == is_validation(doc_id, 0.1)
        assert doc["meta"]["input"]["file"].endswith(".jsonl.gz") and doc["meta"]["input"]["line"] >= 1
    assert sum(v["validation_docs"] for v in langs.values()) > 0
    card = (out / "DATACARD.md").read_text()
    for lang in langs:
        assert f"| {lang} |" in card
    for reason in ("dedup_exact", "dedup_near", "read_invalid_json", "test_min_words_short"):
        assert f"`{reason}`" in card
    assert "min_words=5" in card and "bands=14" in card
    for chart in ("charts/bytes_per_language.png", "charts/drop_reasons.png"):
        assert (out / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart in card


def test_rerun_of_finished_run_changes_nothing(corpus, clean_run, capsys):
    root, _, config = corpus
    before = tree_bytes(clean_run)
    rc = prep_main(
        [
            "--input",
            str(root / "in" / "*.jsonl.gz"),
            "--output",
            str(clean_run),
            "--config",
            str(config),
            "--no-progress",
        ]
    )
    assert rc == 0
    assert "tasks run: shard 0, dedup 0, write 0" in capsys.readouterr().out
    assert tree_bytes(clean_run) == before


@pytest.mark.slow
def test_two_workers_give_identical_bytes(corpus, clean_run, tmp_path):
    root, _, config = corpus
    out = tmp_path / "par"
    args = ["--input", str(root / "in" / "*.jsonl.gz"), "--output", str(out), "--config", str(config)]
    assert prep_main([*args, "--workers", "2", "--no-progress"]) == 0
    assert tree_bytes(out) == tree_bytes(clean_run)


def test_changed_config_on_same_output_is_refused_then_overwritten(corpus, tmp_path):
    root, _, config = corpus
    out = tmp_path / "o"
    base = [
        "--input",
        str(root / "in" / "part-00.jsonl.gz"),
        "--output",
        str(out),
        "--config",
        str(config),
        "--no-progress",
    ]
    assert prep_main(base) == 0
    from llm_train.errors import DataError

    with pytest.raises(DataError, match="different config"):
        prep_main([*base, "output.validation_fraction=0.5"])
    assert prep_main([*base, "--overwrite", "output.validation_fraction=0.5"]) == 0
    docs = output_docs(out)
    assert {i for i, (_, split, _) in docs.items() if split == "validation"} == {
        i for i in docs if is_validation(i, 0.5)
    }
    assert json.loads((out / "stats.json").read_text())["totals"]["docs_out"] == len(docs)


def test_config_errors_name_file_key_and_expectation(corpus, tmp_path):
    root, _, config = corpus
    from llm_train.errors import ConfigError

    bad = tmp_path / "bad.yaml"
    bad.write_text(TEST_CONFIG.replace("test_min_words:", "test_min_wrds:"), encoding="utf-8")
    args = ["--input", str(root / "in" / "*.gz"), "--output", str(tmp_path / "x"), "--no-progress"]
    with pytest.raises(ConfigError) as exc:
        prep_main([*args, "--config", str(bad)])
    text = str(exc.value)
    assert str(bad) in text and "steps.test_min_wrds" in text and "Did you mean 'test_min_words'" in text
    with pytest.raises(ConfigError, match=r"steps.test_min_words: bad parameters"):
        prep_main([*args, "--config", str(config), "steps.test_min_words.min_words=-1"])
    with pytest.raises(ConfigError, match=r"dedup.bandz: unknown key; did you mean 'bands'"):
        prep_main([*args, "--config", str(config), "dedup.bandz=3"])
    # Nothing was started for a bad config.
    assert not (tmp_path / "x").exists()


def test_missing_input_fails_fast(tmp_path):
    from llm_train.errors import DataError

    with pytest.raises(DataError, match="matches no file"):
        prep_main(
            ["--input", str(tmp_path / "nothing-*.jsonl"), "--output", str(tmp_path / "o"), "--no-progress"]
        )


def test_validation_split_is_stable_and_near_fraction():
    ids = [f"doc-{i}" for i in range(20000)]
    picked = [i for i in ids if is_validation(i, 0.05)]
    assert 0.045 < len(picked) / len(ids) < 0.055
    assert picked == [i for i in ids if is_validation(i, 0.05)]
    assert not any(is_validation(i, 0.0) for i in ids)
