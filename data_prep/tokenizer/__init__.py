"""Multilingual byte-level BPE: language-balanced training, fertility, loading, megatron adapter.

`megatron_tokenizer` lives in `data_prep.tokenizer.megatron_adapter` (it imports megatron-core,
so it is not imported here).
"""

from data_prep.tokenizer.load import TokenizerInfo, load_tokenizer, token_dtype

__all__ = ["TokenizerInfo", "load_tokenizer", "token_dtype"]
