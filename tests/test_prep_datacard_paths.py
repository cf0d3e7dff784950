"""DATACARD.md is shared and may be published: it names no machine path, only paths relative to the
corpus or a file's name with its sha256."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from data_prep.cli.prep import main as prep_main
from data_prep.datacard import public_path, public_text
from tests.prep_support import PLUGIN, write_jsonl

# What an outside check greps for: an absolute path after a space, bracket, "=", ":" or a quote.
ABSOLUTE = re.compile(r"(^|[ (=:'\"`])/[A-Za-z][A-Za-z0-9._-]*/[^ |)]*", re.MULTILINE)
TEXT = "Der Bericht beschreibt die neue Bibliothek der Stadt und die Pläne für das nächste Jahr. " * 8


def test_card_shows_no_absolute_path(tmp_path):
    raw = tmp_path / "site" / "raw"
    raw.mkdir(parents=True)
    docs = [{"id": f"d{i}", "text": f"{TEXT} {i}", "meta": {"declared_lang": "de"}} for i in range(4)]
    write_jsonl(raw / "part.jsonl", [*docs, "{not json\n"])
    optout = tmp_path / "site" / "lists" / "optout.txt"
    optout.parent.mkdir()
    optout.write_text("id:d1\n", encoding="utf-8")
    config = tmp_path / "prep.yaml"
    config.write_text(f"plugins: [{PLUGIN}]\nsteps:\n  test_lang_from_meta: {{}}\n", encoding="utf-8")
    out = tmp_path / "clean"
    args = ["--input", str(raw / "*.jsonl"), "--output", str(out), "--config", str(config)]
    assert prep_main([*args, "--optout", str(optout), "--no-progress"]) == 0

    card = (out / "DATACARD.md").read_text(encoding="utf-8")
    assert not ABSOLUTE.search(card), ABSOLUTE.search(card)
    assert str(tmp_path) not in card
    digest = hashlib.sha256(optout.read_bytes()).hexdigest()[:16]
    assert f"optout.txt (sha256 {digest})" in card  # the list is named and pinned, not located
    assert "part.jsonl" in card and "*.jsonl" in card  # the bad record's file and the input glob
    assert "optout_id" in card  # the removal itself is still reported


def test_public_paths(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "de").mkdir(parents=True)
    assert public_path(str(corpus / "de" / "x.jsonl.zst"), corpus) == "de/x.jsonl.zst"
    assert public_path("relative/in.jsonl", corpus) == "relative/in.jsonl"
    assert public_path("/nowhere/raw/*.jsonl.gz", corpus) == "*.jsonl.gz"
    assert public_text("read_bad_json: /data/raw/a.jsonl:12", corpus) == "read_bad_json: a.jsonl:12"
    # URLs are not paths
    assert (
        public_text("https://example.org/a/b and http://x.y/z", corpus)
        == "https://example.org/a/b and http://x.y/z"
    )
    assert Path(public_path(str(tmp_path), corpus)).name == tmp_path.name
