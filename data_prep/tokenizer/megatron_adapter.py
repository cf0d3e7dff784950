"""Our tokenizer directory as megatron-core's tokenizer object (`GPTDatasetConfig.tokenizer`).

The object is `llm_train.data.tokenizer.PackedDataTokenizer`, shared with the trainer; built here
from the checked `TokenizerInfo`, so the ids megatron masks and pads with (EOD, PAD, BOS) are the
ones `pack` wrote, read from our metadata rather than guessed from the vocabulary.
"""

from __future__ import annotations

from pathlib import Path

from data_prep.tokenizer.load import TokenizerInfo, load_tokenizer
from llm_train.data.tokenizer import PackedDataTokenizer


def megatron_tokenizer(path: str | Path | TokenizerInfo) -> PackedDataTokenizer:
    info = path if isinstance(path, TokenizerInfo) else load_tokenizer(path)
    return PackedDataTokenizer(
        info.vocab_size, info.eod_id, info.tokenizer, path=str(info.path), bos=info.bos_id, pad=info.pad_id
    )
