"""Tokenizer training: balanced sampling, transformers loading offline, no unknown tokens,
determinism, fertility, clear failures on broken tokenizer dirs, megatron adapter."""

from __future__ import annotations

import json
import random
import shutil
import unicodedata

import pytest

from data_prep.cli.tokenizer import main as tokenizer_main
from data_prep.tokenizer.sampling import copies, plan_shares, temperature_shares
from llm_train.data.tokenizer_dir import load_tokenizer
from llm_train.errors import DataError
from tests.test_pack_corpus import make_corpus

LANGS = {"en": 300, "de": 200, "el": 60, "bg": 60, "mt": 15, "lv": 15}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("tok")
    make_corpus(root / "corpus", LANGS)
    argv = ["--corpus", str(root / "corpus"), "--output", str(root / "tok"), "--vocab-size", "700"]
    assert tokenizer_main([*argv, "--fertility-mb", "0.02"]) == 0
    return root


def random_strings(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    blocks = [
        (0x0, 0x250),
        (0x370, 0x530),
        (0x4E00, 0x4F00),
        (0x1F300, 0x1F650),
        (0x10000, 0x10100),
        (0xE000, 0xE010),
    ]
    out = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randint(1, 60)):
            lo, hi = rng.choice(blocks)
            chars.append(chr(rng.randrange(lo, hi)))
        out.append("".join(chars))
    # every single byte value as a character, and raw bytes read as Latin-1
    out.append("".join(chr(b) for b in range(256)))
    out.append(bytes(rng.randrange(256) for _ in range(500)).decode("latin-1"))
    return out


def test_loads_in_transformers_offline_and_never_needs_unk(trained):
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(str(trained / "tok"), local_files_only=True)
    meta = json.loads((trained / "tok" / "llm_train_tokenizer.json").read_text())
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)
    assert (meta["pad_id"], meta["bos_id"], meta["eod_id"], meta["vocab_size"]) == (0, 1, 2, len(tok))
    assert tok.unk_token_id is None
    for text in random_strings(0, 300):
        ids = tok.encode(text, add_special_tokens=False)
        assert ids and all(3 + 8 <= i < len(tok) for i in ids), text  # no special, no out-of-vocab id
        assert tok.decode(ids) == unicodedata.normalize("NFC", text)


def test_round_trip_in_every_script(trained):
    info = load_tokenizer(trained / "tok")
    for text in [
        "Ħafna nies żaru l-belt",
        "Η επιτροπή θα συνεδριάσει",
        "Комисията ще заседава",
        "Budžetu—ķēde",
    ]:
        assert info.tokenizer.decode(info.tokenizer.encode(text).ids) == text
    # decomposed input comes back composed (NFC is the tokenizer's only normalization)
    decomposed = unicodedata.normalize("NFD", "Ελληνικά ā é")
    assert info.tokenizer.decode(info.tokenizer.encode(decomposed).ids) == unicodedata.normalize(
        "NFC", decomposed
    )


def test_fertility_per_language(trained):
    fertility = json.loads((trained / "tok" / "fertility.json").read_text())
    assert sorted(fertility) == sorted(LANGS)
    for row in fertility.values():
        assert row["documents"] > 0 and row["tokens"] > 0
        assert row["tokens_per_word"] == pytest.approx(row["tokens"] / row["words"], abs=1e-3)
        assert 1.0 < row["bytes_per_token"] < 20


def test_small_languages_get_their_share(trained):
    meta = json.loads((trained / "tok" / "llm_train_tokenizer.json").read_text())
    langs = meta["training"]["languages"]
    # Maltese has ~5% of English's bytes but gets far more than 5% of English's sample share.
    assert langs["mt"]["corpus_bytes"] < 0.1 * langs["en"]["corpus_bytes"]
    assert langs["mt"]["share"] > 0.35 * langs["en"]["share"]
    assert langs["mt"]["rate"] > 1.0 > langs["en"]["rate"]


def test_training_is_deterministic(trained, tmp_path):
    argv = ["--corpus", str(trained / "corpus"), "--vocab-size", "700", "--fertility-mb", "0.01"]
    tokenizer_main([*argv, "--output", str(tmp_path / "a")])
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (
        trained / "tok" / "tokenizer.json"
    ).read_bytes()


def test_temperature_and_repeat_plan():
    shares = temperature_shares({"de": 1000, "mt": 10}, 0.5)
    assert shares["de"] / shares["mt"] == pytest.approx(10.0)
    assert temperature_shares({"de": 1000, "mt": 10}, 1.0)["mt"] == pytest.approx(10 / 1010)
    plan = {s.lang: s for s in plan_shares({"de": (1000, 10), "mt": (10, 1)}, 0.5, 10**9, max_repeat=4)}
    assert plan["mt"].rate == 4.0  # capped repetition
    assert plan["de"].rate == pytest.approx(1010 * plan["de"].share / 1000)
    draws = [copies(1, "de", str(i), 0.25) for i in range(4000)]
    assert set(draws) == {0, 1} and abs(sum(draws) / 4000 - 0.25) < 0.03
    assert draws == [copies(1, "de", str(i), 0.25) for i in range(4000)]
    assert {copies(1, "mt", str(i), 2.0) for i in range(100)} == {2}


def test_broken_tokenizer_dirs_fail_clearly(trained, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(trained / "tok", broken)
    (broken / "tokenizer.json").unlink()
    with pytest.raises(DataError, match="missing tokenizer.json"):
        load_tokenizer(broken)
    shutil.copy(trained / "tok" / "tokenizer.json", broken / "tokenizer.json")
    meta = json.loads((broken / "llm_train_tokenizer.json").read_text())
    meta["vocab_size"] = 50000
    (broken / "llm_train_tokenizer.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="vocab_size 50000 does not match"):
        load_tokenizer(broken)
    with pytest.raises(DataError, match="not found"):
        load_tokenizer(tmp_path / "nope")


def test_megatron_tokenizer_object(trained):
    from megatron.core.tokenizers import MegatronTokenizerBase

    from llm_train.data.tokenizer import PackedDataTokenizer

    adapter = PackedDataTokenizer.from_dir(trained / "tok")
    assert isinstance(adapter, MegatronTokenizerBase)
    assert (adapter.eod, adapter.pad, adapter.bos, adapter.vocab_size) == (2, 0, 1, 700)
    ids = adapter.tokenize("Η επιτροπή")
    assert adapter.detokenize(ids) == "Η επιτροπή"
    assert adapter.inv_vocab[adapter.vocab["</s>"]] == "</s>"
    # Evals read the same ids through the same loader.
    from evals.tokenizer import load_eval_tokenizer

    assert load_eval_tokenizer(trained / "tok").eod_id == adapter.eod
