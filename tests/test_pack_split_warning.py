"""`llm-train pack` and `pack --verify` warn, with the trainer's own rule and words, when a dataset is
too small to give every non-zero part of data.split a document (the trainer would refuse it)."""

from __future__ import annotations

import pytest

from data_prep.cli.pack import main as pack_main
from llm_train.data.splits import empty_split_message, empty_split_problems, split_documents
from llm_train.errors import DataError
from tests.test_pack_corpus import make_corpus, train_small_tokenizer


def test_split_documents_rounds_like_megatron():
    assert split_documents(100, "98,2,0") == [98, 2, 0]
    assert split_documents(3, "98,2,0") == [3, 0, 0]
    assert split_documents(40, "95,5,0") == [38, 2, 0]
    assert empty_split_problems({"lt": 3, "en": 100}, "98,2,0") == ["lt (valid)"]
    assert empty_split_problems({"lt": 3}, "100,0,0") == []


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("split")
    make_corpus(root / "corpus", {"en": 60, "lv": 3}, files_per_lang=1)
    tok = train_small_tokenizer(root / "corpus", root / "tok")
    return root, tok


def test_pack_and_verify_warn_about_a_dataset_train_would_refuse(packed, tmp_path, capsys):
    root, tok = packed
    out = tmp_path / "packed"
    assert (
        pack_main(
            [
                "--corpus",
                str(root / "corpus"),
                "--tokenizer",
                str(tok),
                "--output",
                str(out),
                "--workers",
                "1",
            ]
        )
        == 0
    )
    expected = empty_split_message(["lv (valid)"], "98,2,0")
    err = capsys.readouterr().err
    assert "llm-train train` will refuse this pack" in err and expected in err
    assert "en (" not in err  # 60 documents leave every part one
    assert pack_main(["--verify", str(out)]) == 0
    assert expected in capsys.readouterr().err
    # the split training will use decides: no validation part, no warning
    assert pack_main(["--verify", str(out), "--train-split", "100,0,0"]) == 0
    assert "warning" not in capsys.readouterr().err
    with pytest.raises(DataError, match="--train-split"):
        pack_main(["--verify", str(out), "--train-split", "98/2"])
