"""The piece-cache encoder's one-array batch output equals HF's encoding of every text plus EOD,
also when its cache starts over in the middle of a batch."""

from __future__ import annotations

import numpy as np
import pytest
import regex

from data_prep.pack import encoder, pieces
from data_prep.pack.encoder import HFBatchEncoder, PieceCacheEncoder, make_encoder
from llm_train.data.tokenizer_dir import load_tokenizer
from tests.test_pack_corpus import make_corpus, train_small_tokenizer
from tests.test_tokenizer import random_strings


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    root = tmp_path_factory.mktemp("enc")
    make_corpus(root / "corpus", {"en": 40, "de": 40, "el": 40}, files_per_lang=1)
    return load_tokenizer(train_small_tokenizer(root / "corpus", root / "tok")).tokenizer


TEXTS = [
    "",
    "a  b\n\n\t c",
    "x\r\n\r\ny",
    "1234567 89",
    "don't WE'LL",
    "Ǆ\u0301\u0327",
    " ",
] + random_strings(3, 300)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("cache_entries", [500_000, 50])
def test_flat_batch_is_each_text_then_eod(tokenizer, cache_entries, compiled, monkeypatch):
    if not compiled:  # the loops a source tree without the built module runs
        monkeypatch.setattr(encoder, "flatten", pieces._flatten)
        monkeypatch.setattr(encoder, "splitter", lambda pattern: regex.compile(pattern).findall)
    fast = make_encoder(tokenizer)
    assert isinstance(fast, PieceCacheEncoder)
    fast.cache_entries = cache_entries  # 50: the cache starts over inside the batch
    expected = HFBatchEncoder(tokenizer).encode_batch(TEXTS)
    flat, lengths = fast.encode_flat(TEXTS, 7, np.uint16)
    assert lengths == [len(ids) + 1 for ids in expected]
    assert flat.tolist() == [t for ids in expected for t in [*ids, 7]]
    # "" marks a text's end inside the encoder: it must not stay an id of real text
    assert fast.encode_batch(["", "x"]) == [[], *HFBatchEncoder(tokenizer).encode_batch(["x"])]
