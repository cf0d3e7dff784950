"""`datasets` both ways, offline: a partner's `save_to_disk` dataset as prep input, and the clean
corpus prep writes loaded back with `datasets.load_dataset(<corpus>, name=<lang>, split=...)`."""

from __future__ import annotations

import json

import datasets
import zstandard

from data_prep.cli.prep import main as prep_main
from tests.prep_support import TEST_CONFIG, sample_docs


def corpus_rows(out, lang: str, split: str) -> list[dict]:
    rows = []
    for path in sorted((out / lang / split).glob("*.jsonl.zst")):
        with zstandard.open(path, "rt", encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh]
    return rows


def test_prep_reads_a_saved_dataset_and_its_output_loads_with_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    docs = sample_docs(30)
    columns = {
        "id": [d["id"] for d in docs],
        "text": [d["text"] for d in docs],
        "meta": [{"declared_lang": d["meta"]["declared_lang"]} for d in docs],
    }
    half = len(docs) // 2
    partner = tmp_path / "partner"
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({k: v[:half] for k, v in columns.items()}),
            "test": datasets.Dataset.from_dict({k: v[half:] for k, v in columns.items()}),
        }
    ).save_to_disk(str(partner), num_shards={"train": 2, "test": 1})
    config = tmp_path / "prep.yaml"
    config.write_text(TEST_CONFIG.replace("validation_fraction: 0.1", "validation_fraction: 0.3"))
    out = tmp_path / "clean"
    assert (
        prep_main(["--input", str(partner), "--output", str(out), "--config", str(config), "--no-progress"])
        == 0
    )

    stats = json.loads((out / "stats.json").read_text())
    assert stats["totals"]["shards"] == 3  # one per arrow file, not one for the whole dataset
    assert stats["totals"]["docs_in"] == len(docs)
    langs = sorted(stats["languages"])
    written = {lang: {s: corpus_rows(out, lang, s) for s in ("train", "validation")} for lang in langs}
    assert sum(len(r) for w in written.values() for r in w.values()) == stats["totals"]["docs_out"]
    assert {r["source"] for w in written.values() for rows in w.values() for r in rows} == {"partner"}

    cache = tmp_path / "hf-cache"
    for lang in langs:
        for split, rows in written[lang].items():
            if not rows:
                continue
            ds = datasets.load_dataset(str(out), name=lang, split=split, cache_dir=str(cache))
            assert ds.num_rows == len(rows)
            assert ds.column_names == ["id", "text", "lang", "source", "url", "meta"]
            assert [dict(r) for r in ds] == rows  # meta comes back as the dict it was written as
    assert datasets.get_dataset_config_names(str(out)) == langs
