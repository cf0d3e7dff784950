"""Tokenize-and-pack: round trip through megatron's IndexedDataset in several scripts, worker-count
independence, grouping by source, bad input, resume after a kill, verify."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import zstandard

from data_prep.pack import packer
from data_prep.pack.packer import PackOptions, pack
from data_prep.pack.verify import verify
from llm_train.errors import DataError
from tests.test_pack_corpus import make_corpus, make_docs, train_small_tokenizer, write_jsonl_zst

LANGS = {"en": 60, "de": 50, "el": 50, "bg": 50, "mt": 20, "lv": 20}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("pack")
    docs = make_corpus(root / "corpus", LANGS, files_per_lang=2)
    tok = train_small_tokenizer(root / "corpus", root / "tok")
    return root, docs, tok


def read_dataset(prefix: Path) -> list[np.ndarray]:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    ds = IndexedDataset(str(prefix))
    # copies: the arrays are views of an mmap that closes with `ds`
    return [np.array(ds[i]) for i in range(len(ds))]


def test_round_trip_every_script(setup, tmp_path):
    from llm_train.data.tokenizer_dir import load_tokenizer

    root, docs, tok = setup
    stats = pack(root / "corpus", tok, tmp_path / "out", PackOptions(workers=2))
    info = load_tokenizer(tok)
    assert stats["dtype"] == "uint16" and stats["encoder"] == ["piece-cache"]
    assert sorted(stats["datasets"]) == sorted(LANGS)
    for lang, lang_docs in docs.items():
        entry = stats["datasets"][lang]
        packed = read_dataset(tmp_path / "out" / entry["prefix"])
        assert len(packed) == entry["documents"] == len(lang_docs)
        assert sum(len(p) for p in packed) == entry["tokens"]
        for ids, doc in zip(packed, lang_docs, strict=True):
            assert ids[-1] == info.eod_id and info.eod_id not in ids[:-1]
            assert info.tokenizer.decode(ids[:-1].tolist()) == unicodedata.normalize("NFC", doc["text"])
    assert not (tmp_path / "out" / ".shards").exists()
    result = verify(tmp_path / "out")
    assert result["ok"], result["problems"]


def test_fast_encoder_equals_hf_encode(setup):
    from data_prep.pack.encoder import HFBatchEncoder, PieceCacheEncoder, make_encoder
    from llm_train.data.tokenizer_dir import load_tokenizer
    from tests.test_tokenizer import random_strings

    _, docs, tok = setup
    tokenizer = load_tokenizer(tok).tokenizer
    fast = make_encoder(tokenizer)
    assert isinstance(fast, PieceCacheEncoder)
    texts = [d["text"] for lang_docs in docs.values() for d in lang_docs]
    texts += random_strings(1, 2000) + [
        "a  b\n\n\t c",
        "  ",
        "x\r\n\r\ny",
        "1234567 89",
        "don't WE'LL",
        "Ǆ\u0301\u0327",
    ]
    assert fast.encode_batch(texts) == HFBatchEncoder(tokenizer).encode_batch(texts)


def test_special_token_text_is_not_a_special_token(setup, tmp_path):
    root, _, tok = setup
    corpus = tmp_path / "c"
    write_jsonl_zst(corpus / "en" / "train" / "a.jsonl.zst", [{"id": "1", "text": "an </s> inside <s> text"}])
    stats = pack(corpus, tok, tmp_path / "out", PackOptions())
    (ids,) = read_dataset(tmp_path / "out" / stats["datasets"]["en"]["prefix"])
    assert list(ids).count(2) == 1 and ids[-1] == 2 and 1 not in ids


def test_output_does_not_depend_on_worker_count(setup, tmp_path):
    root, _, tok = setup
    pack(root / "corpus", tok, tmp_path / "w1", PackOptions(workers=1, batch_bytes=3000))
    pack(root / "corpus", tok, tmp_path / "w2", PackOptions(workers=2))
    for path in sorted((tmp_path / "w1").glob("*_text_document.*")):
        # .bin, .idx and the document map's files
        for file in sorted(path.iterdir()) if path.is_dir() else [path]:
            other = tmp_path / "w2" / file.relative_to(tmp_path / "w1")
            assert file.read_bytes() == other.read_bytes(), file.name


def test_group_by_source(setup, tmp_path):
    root, docs, tok = setup
    stats = pack(root / "corpus", tok, tmp_path / "out", PackOptions(group_by="source", langs=["el", "mt"]))
    assert sorted(stats["datasets"]) == ["el_src0", "el_src1", "mt_src0", "mt_src1"]
    assert stats["datasets"]["el_src1"]["source"] == "src1"
    assert sum(stats["datasets"][f"el_src{i}"]["documents"] for i in (0, 1)) == len(docs["el"])
    assert (tmp_path / "out" / "el_src0_text_document.idx").is_file()


def test_bad_input_is_reported_and_skipped(setup, tmp_path):
    root, _, tok = setup
    corpus = tmp_path / "c"
    good = make_docs("el", 30)
    write_jsonl_zst(corpus / "el" / "train" / "a.jsonl.zst", good[:10])
    lines = [json.dumps(good[10]), "{broken", json.dumps({"id": "no-text"}), json.dumps(good[11])]
    (corpus / "el" / "train" / "b.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress("\n".join(lines).encode())
    )
    big = make_docs("bg", 3000)
    blob = zstandard.ZstdCompressor().compress("".join(json.dumps(d) + "\n" for d in big).encode())
    (corpus / "bg" / "train").mkdir(parents=True)
    (corpus / "bg" / "train" / "cut.jsonl.zst").write_bytes(blob[: len(blob) // 2])
    stats = pack(corpus, tok, tmp_path / "out", PackOptions(workers=1))
    assert stats["skipped"] == {"invalid_json": 1, "missing_text": 1, "corrupt_file": 1}
    assert stats["datasets"]["el"]["documents"] == 12
    assert 0 < stats["datasets"]["bg"]["documents"] < 3000
    assert {p["reason"] for p in stats["problems"]} == {"invalid_json", "missing_text", "corrupt_file"}
    assert verify(tmp_path / "out")["ok"]


def test_tokenizer_problems_fail_before_any_work(setup, tmp_path):
    root, _, tok = setup
    broken = tmp_path / "tok"
    shutil.copytree(tok, broken)
    (broken / "tokenizer.json").unlink()
    with pytest.raises(DataError, match="missing tokenizer.json"):
        pack(root / "corpus", broken, tmp_path / "out", PackOptions())
    assert not (tmp_path / "out").exists()

    other = train_small_tokenizer(root / "corpus", tmp_path / "tok2", vocab_size=600)
    pack(root / "corpus", tok, tmp_path / "out2", PackOptions(langs=["mt"]))
    with pytest.raises(DataError, match="different settings.*vocab_size: 800 -> 600"):
        pack(root / "corpus", other, tmp_path / "out2", PackOptions(langs=["mt"]))
    with pytest.raises(DataError, match="uint16 cannot hold"):
        from llm_train.data.tokenizer_dir import load_tokenizer

        info = load_tokenizer(tok)
        info.vocab_size = 100_000
        PackOptions(dtype="uint16").check(info)


def test_resume_packs_only_unfinished_files(setup, tmp_path, monkeypatch):
    from data_prep.pack.worker import marker_path

    root, _, tok = setup
    out = tmp_path / "out"
    reference = pack(root / "corpus", tok, tmp_path / "ref", PackOptions())
    real = packer.pack_file
    calls = []

    def crash_after_three(task):
        if len(calls) == 3:
            raise KeyboardInterrupt  # what a kill looks like to the loop
        calls.append(task.file.path.name)
        return real(task)

    monkeypatch.setattr(packer, "pack_file", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        pack(root / "corpus", tok, out, PackOptions())
    files = packer.discover(root / "corpus", "train")
    assert sum(marker_path(out / ".shards", f).is_file() for f in files) == 3
    calls.clear()
    monkeypatch.setattr(packer, "pack_file", lambda task: calls.append(task.file) or real(task))
    stats = pack(root / "corpus", tok, out, PackOptions())
    assert len(calls) == len(files) - 3
    assert stats["datasets"] == reference["datasets"]
    for path in sorted((tmp_path / "ref").glob("*_text_document.*")):
        for file in sorted(path.iterdir()) if path.is_dir() else [path]:
            assert file.read_bytes() == (out / file.relative_to(tmp_path / "ref")).read_bytes(), file.name
    calls.clear()
    pack(root / "corpus", tok, out, PackOptions())  # up to date: no work
    assert calls == []


def test_killed_pack_process_resumes(setup, tmp_path):
    root, _, tok = setup
    corpus = tmp_path / "c"
    for k in range(8):
        write_jsonl_zst(corpus / "el" / "train" / f"p{k}.jsonl.zst", make_docs("el", 6000, seed=k))
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "llm_train.cli.main",
        "pack",
        "--corpus",
        str(corpus),
        "--tokenizer",
        str(tok),
    ]
    cmd += ["--output", str(out), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list((out / ".shards").rglob("*.done.json")) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list((out / ".shards").rglob("*.done.json")))
    assert 1 <= done_before < 8 and not (out / "pack_stats.json").exists()
    rerun = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert f"resuming: {done_before} of 8 files already packed" in rerun.stderr
    stats = json.loads((out / "pack_stats.json").read_text())
    assert stats["datasets"]["el"]["documents"] == 8 * 6000
    assert verify(out)["ok"]


def test_verify_detects_corruption(setup, tmp_path):
    root, _, tok = setup
    out = tmp_path / "out"
    stats = pack(root / "corpus", tok, out, PackOptions(langs=["bg", "lv"]))
    bin_file = out / f"{stats['datasets']['bg']['prefix']}.bin"
    data = bytearray(bin_file.read_bytes())
    data[10:12] = (2).to_bytes(2, "little")  # an EOD inside the first document
    bin_file.write_bytes(bytes(data))
    stats["datasets"]["lv"]["tokens"] += 1
    (out / "pack_stats.json").write_text(json.dumps(stats))
    result = verify(out)
    assert not result["ok"]
    assert any(p.startswith("bg:") and "EOD inside" in p for p in result["problems"])
    assert any(p.startswith("lv:") and "tokens, pack_stats says" in p for p in result["problems"])
