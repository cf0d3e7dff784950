"""The model section: one Llama-style decoder spec read by every backend, the export and the planner."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from llm_train.config.base import Section


class ModelConfig(Section):
    name: str = "custom"
    vocab_size: PositiveInt = 32000
    # Embedding rows are padded to a multiple of this (tensor-core friendly, divisible by TP).
    make_vocab_size_divisible_by: PositiveInt = 128
    hidden_size: PositiveInt = 768
    num_layers: PositiveInt = 12
    num_heads: PositiveInt = 12
    # Grouped-query attention: None means multi-head (kv heads == heads).
    num_kv_heads: PositiveInt | None = None
    ffn_hidden_size: PositiveInt = 2048
    # The trained models are SwiGLU; "gelu" (two-matrix MLP) describes published GPT-style
    # models (BLOOM, Falcon) for `plan` only.
    mlp: Literal["swiglu", "gelu"] = "swiglu"
    norm_eps: float = Field(1e-5, gt=0)
    rope_theta: float = Field(10000.0, gt=0)
    max_seq_len: PositiveInt = 2048
    tie_embeddings: bool = False
    init_std: float = Field(0.02, gt=0)

    @property
    def kv_heads(self) -> int:
        return self.num_kv_heads or self.num_heads

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def padded_vocab_size(self) -> int:
        m = self.make_vocab_size_divisible_by
        return ((self.vocab_size + m - 1) // m) * m
