"""`transformers.LlamaForCausalLM` built from our one model spec (no download, no hub).

The DeepSpeed backend trains this model and every checkpoint carries it as plain safetensors,
so evals and the export can read a checkpoint without DeepSpeed.
"""

from __future__ import annotations

import torch

from llm_train.config.model import ModelConfig
from llm_train.model.spec import require_buildable


def llama_config(m: ModelConfig):
    from transformers import LlamaConfig

    require_buildable(m)
    return LlamaConfig(
        vocab_size=m.padded_vocab_size,
        hidden_size=m.hidden_size,
        intermediate_size=m.ffn_hidden_size,
        num_hidden_layers=m.num_layers,
        num_attention_heads=m.num_heads,
        num_key_value_heads=m.kv_heads,
        head_dim=m.head_dim,
        hidden_act="silu",
        max_position_embeddings=m.max_seq_len,
        rms_norm_eps=m.norm_eps,
        rope_theta=m.rope_theta,
        tie_word_embeddings=m.tie_embeddings,
        initializer_range=m.init_std,
        attention_bias=False,
        mlp_bias=False,
        attention_dropout=0.0,
        use_cache=False,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )


def build_llama(m: ModelConfig, seed: int, dtype: torch.dtype = torch.float32):
    """A freshly initialised model; the same seed gives the same weights on every rank."""
    from transformers import LlamaForCausalLM

    cfg = llama_config(m)
    # "sdpa" is torch's fused attention: no flash-attn package, same numerics on every run.
    cfg._attn_implementation = "sdpa"
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(cfg)
    return model.to(dtype)


def optimizer_param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: decay the matmul weights only, not norms, biases or embeddings."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim < 2 or "embed_tokens" in name or "norm" in name or name.endswith(".bias"):
            no_decay.append(param)
        else:
            decay.append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def hf_state_dict_for_safetensors(state: dict[str, torch.Tensor], tied: bool) -> dict[str, torch.Tensor]:
    """Contiguous CPU copies; the tied output head is dropped (HF re-ties it on load)."""
    out = {}
    for name, tensor in state.items():
        if tied and name == "lm_head.weight":
            continue
        out[name] = tensor.detach().to("cpu").contiguous().clone()
    return out
