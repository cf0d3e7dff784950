"""The one mixture.yaml reader and the one megatron-core tokenizer object (llm_train.data)."""

from __future__ import annotations

import pytest
import yaml

from llm_train.data.mixture import load_mixture
from llm_train.errors import ConfigError, DataError


def write_mixture(root, datasets, files=("de", "fr"), **top):
    packed = root / "packed"
    packed.mkdir(parents=True, exist_ok=True)
    for name in files:
        for ext in (".bin", ".idx"):
            (packed / f"{name}_text_document{ext}").write_bytes(b"")
    path = packed / "mixture.yaml"
    path.write_text(yaml.safe_dump({**top, "datasets": datasets}))
    return path


def test_hand_written_mixture_gets_defaults_and_absolute_paths(tmp_path):
    path = write_mixture(
        tmp_path,
        [{"prefix": "de_text_document", "lang": "de"}, {"prefix": "fr_text_document", "weight": 3}],
        tokenizer="../tok",
    )
    m = load_mixture(path)
    assert m.name == "mixture" and m.tokenizer == str((tmp_path / "tok").resolve())
    assert [d.name for d in m.datasets] == ["de_text_document", "fr_text_document"]
    assert [d.lang for d in m.datasets] == ["de", None] and m.datasets[0].tokens is None
    prefixes, weights = m.blend()
    assert prefixes == [str((tmp_path / "packed" / f"{n}_text_document").resolve()) for n in ("de", "fr")]
    assert weights == [1.0, 3.0]
    assert m.blend_flat() == ["1.0", prefixes[0], "3.0", prefixes[1]]


def test_zero_weight_is_listed_but_never_sampled(tmp_path):
    # megatron-core's BlendedDataset asserts every weight > 0.
    path = write_mixture(
        tmp_path, [{"name": "de", "prefix": "de_text_document", "weight": 0}, {"prefix": "fr_text_document"}]
    )
    m = load_mixture(path)
    assert [d.name for d in m.datasets] == ["de", "fr_text_document"]
    assert [d.name for d in m.sampled] == ["fr_text_document"] and m.blend()[1] == [1.0]
    assert "de" in m.render_table()
    zeros = write_mixture(tmp_path / "z", [{"prefix": "de_text_document", "weight": 0.0}])
    with pytest.raises(ConfigError, match="at least one weight > 0"):
        load_mixture(zeros)


@pytest.mark.parametrize(
    ("top", "datasets", "key"),
    [
        ({"version": 2}, [{"prefix": "de_text_document"}], "version"),
        ({}, [], "datasets"),
        ({}, [{"name": "de"}], "datasets.0"),
        ({}, [{"prefix": "de_text_document"}, {"prefix": "fr_text_document", "weight": -1}], "datasets.1"),
        ({}, [{"prefix": "de_text_document", "weight": "half"}], "datasets.0"),
    ],
)
def test_bad_mixture_names_file_and_key(tmp_path, top, datasets, key):
    path = write_mixture(tmp_path, datasets, **top)
    with pytest.raises(ConfigError) as err:
        load_mixture(path)
    assert [p.key for p in err.value.problems] == [key]
    assert str(path.resolve()) in str(err.value)


def test_missing_files_fail_unless_not_checked(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_mixture(tmp_path / "nope.yaml")
    path = write_mixture(tmp_path, [{"name": "ga", "prefix": "ga_text_document"}])
    with pytest.raises(DataError, match=r"datasets\.0 \(ga\): missing .*ga_text_document\.bin"):
        load_mixture(path)
    assert load_mixture(path, check_files=False).datasets[0].name == "ga"


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<pad>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(["Grüße aus Köln und Ελλάδα"] * 20, trainer)
    out = tmp_path_factory.mktemp("tok")
    tok.save(str(out / "tokenizer.json"))
    # A plain HF tokenizer dir: its tokenizer_config.json names the end-of-document token.
    (out / "tokenizer_config.json").write_text('{"eos_token": "</s>", "pad_token": "<pad>"}')
    return out


def test_tokenizer_from_dir_reads_eod_and_counts_decoded_bytes(tok_dir):
    from megatron.core.tokenizers import MegatronTokenizerBase

    from llm_train.data.tokenizer import PackedDataTokenizer

    tok = PackedDataTokenizer.from_dir(tok_dir)
    assert isinstance(tok, MegatronTokenizerBase)
    assert (tok.eod, tok.pad, tok.vocab_size) == (1, 0, len(tok.vocab))
    assert tok.special_tokens_dict == {"eos_token": 1, "pad_token": 0}
    text = "Grüße aus Ελλάδα"
    ids = tok.tokenize(text)
    assert tok.detokenize(ids) == text
    # Special tokens carry no text: bits-per-byte divides by the bytes of the text alone.
    assert tok.num_bytes([*ids, tok.eod]) == len(text.encode("utf-8")) == 24
    padded = PackedDataTokenizer.from_dir(tok_dir, vocab_size=512)
    assert padded.vocab_size == 512 and padded.unique_identifiers["vocab_size"] == 512


def test_tokenizer_without_an_end_of_document_rule_is_refused(tok_dir, tmp_path):
    """No guessing: a dir that names no EOS token (nor our metadata) is refused, not read as EOD 0."""
    import shutil

    from llm_train.data.tokenizer import PackedDataTokenizer

    with pytest.raises(DataError, match="missing tokenizer.json"):
        PackedDataTokenizer.from_dir(tmp_path)
    shutil.copy(tok_dir / "tokenizer.json", tmp_path / "tokenizer.json")
    with pytest.raises(DataError, match="cannot tell the end-of-document id"):
        PackedDataTokenizer.from_dir(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(DataError, match="not a valid HF tokenizers file"):
        PackedDataTokenizer.from_dir(tmp_path, vocab_size=128)
