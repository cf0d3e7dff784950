"""Full (unsharded) megatron GPT tensors <-> HF Llama tensors, from the model spec alone.

megatron stores each layer weight once for all layers, with a leading layer axis, under the
names of its Transformer Engine layer (the local layer maps to the same names in checkpoints):
  embedding.word_embeddings.weight                        [V, h]
  decoder.layers.self_attention.linear_qkv.layer_norm_weight  [L, h]
  decoder.layers.self_attention.linear_qkv.weight         [L, g*(q_per_g+2)*d, h]  per KV group: q.., k, v
  decoder.layers.self_attention.linear_proj.weight        [L, h, h]
  decoder.layers.mlp.linear_fc1.layer_norm_weight         [L, h]
  decoder.layers.mlp.linear_fc1.weight                    [L, 2*f, h]  gate rows then up rows
  decoder.layers.mlp.linear_fc2.weight                    [L, h, f]
  decoder.final_layernorm.weight                          [h]
  output_layer.weight                                     [V, h]  (absent when tied)
V is the padded vocabulary; HF gets the tokenizer's vocab_size rows (padding rows are never
targets, so the logits of real tokens are unchanged). RoPE is non-interleaved on both sides, so
q/k rows need no permutation.
"""

from __future__ import annotations

import torch

from llm_train.config.model import ModelConfig
from llm_train.model.spec import require_buildable

LAYERS = "decoder.layers."
QKV = LAYERS + "self_attention.linear_qkv.weight"
PROJ = LAYERS + "self_attention.linear_proj.weight"
ATTN_NORM = LAYERS + "self_attention.linear_qkv.layer_norm_weight"
FC1 = LAYERS + "mlp.linear_fc1.weight"
FC2 = LAYERS + "mlp.linear_fc2.weight"
MLP_NORM = LAYERS + "mlp.linear_fc1.layer_norm_weight"
EMBED, FINAL_NORM, OUTPUT = (
    "embedding.word_embeddings.weight",
    "decoder.final_layernorm.weight",
    "output_layer.weight",
)


def megatron_keys(m: ModelConfig) -> list[str]:
    keys = [EMBED, ATTN_NORM, QKV, PROJ, MLP_NORM, FC1, FC2, FINAL_NORM]
    return keys if m.tie_embeddings else [*keys, OUTPUT]


def _vocab_rows(t: torch.Tensor, rows: int) -> torch.Tensor:
    if t.shape[0] >= rows:
        return t[:rows]
    return torch.cat([t, t.new_zeros(rows - t.shape[0], *t.shape[1:])])


def megatron_to_hf(mg: dict[str, torch.Tensor], m: ModelConfig) -> dict[str, torch.Tensor]:
    groups, q_per_group, d, h, f = (
        m.kv_heads,
        m.num_heads // m.kv_heads,
        m.head_dim,
        m.hidden_size,
        m.ffn_hidden_size,
    )
    hf = {
        "model.embed_tokens.weight": _vocab_rows(mg[EMBED], m.vocab_size),
        "model.norm.weight": mg[FINAL_NORM],
    }
    if not m.tie_embeddings:
        hf["lm_head.weight"] = _vocab_rows(mg[OUTPUT], m.vocab_size)
    for i in range(m.num_layers):
        p = f"model.layers.{i}."
        qkv = mg[QKV][i].reshape(groups, q_per_group + 2, d, h)
        hf[p + "self_attn.q_proj.weight"] = qkv[:, :q_per_group].reshape(groups * q_per_group * d, h)
        hf[p + "self_attn.k_proj.weight"] = qkv[:, q_per_group].reshape(groups * d, h)
        hf[p + "self_attn.v_proj.weight"] = qkv[:, q_per_group + 1].reshape(groups * d, h)
        hf[p + "self_attn.o_proj.weight"] = mg[PROJ][i]
        hf[p + "mlp.gate_proj.weight"] = mg[FC1][i][:f]
        hf[p + "mlp.up_proj.weight"] = mg[FC1][i][f:]
        hf[p + "mlp.down_proj.weight"] = mg[FC2][i]
        hf[p + "input_layernorm.weight"] = mg[ATTN_NORM][i]
        hf[p + "post_attention_layernorm.weight"] = mg[MLP_NORM][i]
    return {k: v.contiguous() for k, v in hf.items()}


def hf_to_megatron(hf: dict[str, torch.Tensor], m: ModelConfig) -> dict[str, torch.Tensor]:
    groups, q_per_group, d, h = m.kv_heads, m.num_heads // m.kv_heads, m.head_dim, m.hidden_size

    def layer(i: int, name: str) -> torch.Tensor:
        return hf[f"model.layers.{i}.{name}"]

    qkv, proj, fc1, fc2, attn_norm, mlp_norm = [], [], [], [], [], []
    for i in range(m.num_layers):
        q = layer(i, "self_attn.q_proj.weight").reshape(groups, q_per_group, d, h)
        k = layer(i, "self_attn.k_proj.weight").reshape(groups, 1, d, h)
        v = layer(i, "self_attn.v_proj.weight").reshape(groups, 1, d, h)
        qkv.append(torch.cat([q, k, v], dim=1).reshape(-1, h))
        proj.append(layer(i, "self_attn.o_proj.weight"))
        fc1.append(torch.cat([layer(i, "mlp.gate_proj.weight"), layer(i, "mlp.up_proj.weight")]))
        fc2.append(layer(i, "mlp.down_proj.weight"))
        attn_norm.append(layer(i, "input_layernorm.weight"))
        mlp_norm.append(layer(i, "post_attention_layernorm.weight"))
    mg = {
        EMBED: _vocab_rows(hf["model.embed_tokens.weight"], m.padded_vocab_size),
        QKV: torch.stack(qkv),
        PROJ: torch.stack(proj),
        FC1: torch.stack(fc1),
        FC2: torch.stack(fc2),
        ATTN_NORM: torch.stack(attn_norm),
        MLP_NORM: torch.stack(mlp_norm),
        FINAL_NORM: hf["model.norm.weight"],
    }
    if not m.tie_embeddings:
        mg[OUTPUT] = _vocab_rows(hf["lm_head.weight"], m.padded_vocab_size)
    return {k: v.contiguous() for k, v in mg.items()}


def hf_config(m: ModelConfig, vocab_size: int | None = None, dtype: str = "float32") -> dict:
    """The one HF Llama config of the spec: `config.json` of an export, and (through
    `backends.hf_llama.llama_config`) the model the DeepSpeed backend trains and evals load.

    `vocab_size`: embedding rows; default the spec's (the tokenizer's), which is what an export
    keeps; the DeepSpeed backend trains the padded vocabulary.
    """
    require_buildable(m)
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": m.vocab_size if vocab_size is None else vocab_size,
        "hidden_size": m.hidden_size,
        "intermediate_size": m.ffn_hidden_size,
        "num_hidden_layers": m.num_layers,
        "num_attention_heads": m.num_heads,
        "num_key_value_heads": m.kv_heads,
        "head_dim": m.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": m.max_seq_len,
        "rms_norm_eps": m.norm_eps,
        "rope_theta": m.rope_theta,
        "tie_word_embeddings": m.tie_embeddings,
        "attention_bias": False,
        "mlp_bias": False,
        "initializer_range": m.init_std,
        "torch_dtype": dtype,
    }


def model_config_from_hf(hf_cfg: dict, name: str = "hf-import") -> ModelConfig:
    """The model spec of an HF Llama config (for warm starts from HF weights)."""
    return ModelConfig(
        name=name,
        vocab_size=hf_cfg["vocab_size"],
        hidden_size=hf_cfg["hidden_size"],
        ffn_hidden_size=hf_cfg["intermediate_size"],
        num_layers=hf_cfg["num_hidden_layers"],
        num_heads=hf_cfg["num_attention_heads"],
        num_kv_heads=hf_cfg.get("num_key_value_heads"),
        max_seq_len=hf_cfg.get("max_position_embeddings", 2048),
        norm_eps=hf_cfg.get("rms_norm_eps", 1e-5),
        rope_theta=hf_cfg.get("rope_theta", 10000.0),
        tie_embeddings=hf_cfg.get("tie_word_embeddings", False),
        init_std=hf_cfg.get("initializer_range", 0.02),
    )
