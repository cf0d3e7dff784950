"""Special tokens of our tokenizers (their ids are recorded in the metadata file of
`llm_train.data.tokenizer_dir`, which every loader reads).

They take the first ids, in this order, so every tokenizer we train agrees on them: PAD is 0 (never
equal to EOD, which megatron-core would otherwise refuse as an ambiguous pad), BOS 1, EOS 2. EOS
doubles as the end-of-document token that `pack` appends after every document. The reserved
tokens leave room for chat/FIM markers later without resizing the embedding.
"""

from __future__ import annotations

PAD = "<pad>"
BOS = "<s>"
EOS = "</s>"
DEFAULT_RESERVED = 8


def reserved_tokens(count: int) -> list[str]:
    return [f"<|reserved_{i}|>" for i in range(count)]


def special_tokens(reserved: int = DEFAULT_RESERVED) -> list[str]:
    return [PAD, BOS, EOS, *reserved_tokens(reserved)]
