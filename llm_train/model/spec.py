"""Parameter and FLOP counts of the Llama-style decoder described by `ModelConfig`.

Backends, the export and the planner all use these, so the count printed by `plan` is the
count of the model that is built (tests compare both).
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_train.config.model import ModelConfig
from llm_train.errors import ConfigError, ConfigProblem


def require_buildable(m: ModelConfig) -> None:
    """Builders make Llama blocks only; other MLP kinds exist so `plan` can describe published models."""
    if m.mlp != "swiglu":
        raise ConfigError(
            [
                ConfigProblem(
                    None,
                    "model.mlp",
                    "expected 'swiglu' to build or train a model ('gelu' is for plan only)",
                    m.mlp,
                )
            ]
        )


@dataclass(frozen=True)
class ParamCounts:
    embedding: int
    per_layer: int
    layers: int
    final_norm: int
    output: int  # 0 when tied to the embedding

    @property
    def total(self) -> int:
        return self.embedding + self.layers + self.final_norm + self.output

    @property
    def non_embedding(self) -> int:
        return self.layers + self.final_norm


def param_counts(m: ModelConfig, padded_vocab: bool = True) -> ParamCounts:
    vocab = m.padded_vocab_size if padded_vocab else m.vocab_size
    h, kv_dim = m.hidden_size, m.kv_heads * m.head_dim
    attention = h * h + 2 * h * kv_dim + h * h  # q, k, v, o; Llama has no biases
    # SwiGLU: gate, up, down; GELU: up, down.
    mlp = (3 if m.mlp == "swiglu" else 2) * h * m.ffn_hidden_size
    norms = 2 * h
    per_layer = attention + mlp + norms
    return ParamCounts(
        embedding=vocab * h,
        per_layer=per_layer,
        layers=per_layer * m.num_layers,
        final_norm=h,
        output=0 if m.tie_embeddings else vocab * h,
    )


def flops_per_token(m: ModelConfig, seq_length: int, training: bool = True) -> float:
    """Model FLOPs per token: 6N over the matmul weights plus attention, as in PaLM (appendix B).

    N counts every weight that takes part in a matmul: all layers and the output projection
    (the logits matmul runs even with tied embeddings); the input embedding is a lookup and is
    excluded. Attention adds 12 * layers * hidden * seq (QK^T and AV, forward + backward), not
    halved for the causal mask, matching Megatron-LM's and PaLM's MFU accounting. Inference is 1/3.
    """
    counts = param_counts(m)
    matmul_params = counts.layers + m.padded_vocab_size * m.hidden_size
    dense = 6 * matmul_params
    attention = 12 * m.num_layers * m.hidden_size * seq_length
    total = dense + attention
    return total if training else total / 3
