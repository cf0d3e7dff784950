"""`output.write_dropped`: every removed document lands in dropped/<step>/<reason>/ with the statistic
that decided; the same bytes for any worker count; nothing when the option is off."""

from __future__ import annotations

import json

import pytest
import zstandard

from data_prep.cli.prep import main as prep_main
from tests.prep_support import PLUGIN, tree_bytes, write_jsonl

GOOD = (
    "Der Bericht beschreibt die neue Bibliothek der Stadt und die Pläne für das nächste Jahr. "
    "Die Leser finden dort Bücher, Zeitschriften und Karten, und die Räume sind hell und ruhig. "
    "Am Abend treffen sich Gruppen, die über Geschichte und Literatur sprechen, und der Eintritt "
    "ist frei. Die Stadt hat dafür ein altes Gebäude am Fluss umgebaut und die Fenster erneuert."
)
# 40 words with letters and 20 numbers: 40 of 60 tokens are alphabetic (< 0.8)
NUMBERS = " ".join(["Haus und die Straße der Stadt am Fluss"] * 5) + " " + " ".join(["1234"] * 20)
SHORT = "Zu kurz, nur ein paar Wörter."  # 6 words, 8 tokens

CONFIG = f"""\
name: prep-dropped-test
plugins: [{PLUGIN}]
steps:
  test_lang_from_meta: {{}}
  gopher_quality: {{}}
output:
  validation_fraction: 0.0
  write_dropped: true
"""


def doc(i: str, text: str) -> dict:
    return {"id": i, "text": text, "meta": {"declared_lang": "de"}}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("dropped")
    (root / "in").mkdir()
    write_jsonl(root / "in" / "a.jsonl", [doc("good", GOOD), doc("short", SHORT), doc("numbers", NUMBERS)])
    write_jsonl(root / "in" / "b.jsonl", [doc("copy", GOOD), doc("short-2", SHORT)])
    (root / "prep.yaml").write_text(CONFIG, encoding="utf-8")
    return root


def run(root, out, *extra) -> None:
    args = [
        "--input",
        str(root / "in" / "*.jsonl"),
        "--output",
        str(out),
        "--config",
        str(root / "prep.yaml"),
    ]
    assert prep_main([*args, "--no-progress", *extra]) == 0


def records(path) -> list[dict]:
    with zstandard.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_layout_and_statistics(corpus, tmp_path):
    out = tmp_path / "clean"
    run(corpus, out)
    files = sorted(str(p.relative_to(out)) for p in (out / "dropped").rglob("*") if p.is_file())
    assert files == [
        "dropped/dedup/dedup_exact/part-00001.jsonl.zst",
        "dropped/gopher_quality/gopher_below_alpha_ratio/part-00000.jsonl.zst",
        "dropped/gopher_quality/gopher_short_doc/part-00000.jsonl.zst",
        "dropped/gopher_quality/gopher_short_doc/part-00001.jsonl.zst",
    ]
    (short,) = records(out / files[2])
    assert short["id"] == "short" and short["text"] == SHORT and short["lang"] == "de"
    assert short["step"] == "gopher_quality" and short["reason"] == "gopher_short_doc"
    assert short["stat"] == {"words": 6, "min_doc_words": 50}
    (numbers,) = records(out / files[1])
    assert numbers["stat"] == {"alpha_words_ratio": round(40 / 60, 6), "min_alpha_words_ratio": 0.8}
    (copy,) = records(out / files[0])
    assert copy["id"] == "copy" and copy["reason"] == "dedup_exact" and copy["stat"] is None
    # the counts in stats.json are the documents in the files
    stats = json.loads((out / "stats.json").read_text())
    assert stats["drop_reasons"]["gopher_short_doc"]["docs"] == 2
    card = (out / "DATACARD.md").read_text()
    assert "[dropped/gopher_quality/gopher_short_doc/](dropped/gopher_quality/gopher_short_doc/)" in card


def test_same_bytes_for_any_worker_count(corpus, tmp_path):
    run(corpus, tmp_path / "one", "--workers", "1")
    run(corpus, tmp_path / "two", "--workers", "2")
    one, two = tree_bytes(tmp_path / "one"), tree_bytes(tmp_path / "two")
    assert any(name.startswith("dropped/") for name in one)
    assert one == two


def test_off_by_default_writes_nothing(corpus, tmp_path):
    config = corpus / "off.yaml"
    config.write_text(CONFIG.replace("  write_dropped: true\n", ""), encoding="utf-8")
    out = tmp_path / "clean"
    args = ["--input", str(corpus / "in" / "*.jsonl"), "--output", str(out), "--config", str(config)]
    assert prep_main([*args, "--no-progress"]) == 0
    assert not (out / "dropped").exists()
    assert "dropped/" not in (out / "DATACARD.md").read_text()
