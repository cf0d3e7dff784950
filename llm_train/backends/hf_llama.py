"""`transformers.LlamaForCausalLM` built from our one model spec (no download, no hub).

The DeepSpeed backend trains this model and every checkpoint carries it as plain safetensors,
so evals and the export can read a checkpoint without DeepSpeed.
"""

from __future__ import annotations

import torch

from llm_train.backends.weight_decay import decays
from llm_train.config.model import ModelConfig
from llm_train.convert.llama import hf_config


def llama_config(m: ModelConfig, vocab_size: int | None = None):
    """`LlamaConfig` of `convert.llama.hf_config` (the one builder), for training or scoring:
    no KV cache, no special ids; `vocab_size` defaults to the padded vocabulary the backend trains."""
    from transformers import LlamaConfig

    fields = hf_config(m, m.padded_vocab_size if vocab_size is None else vocab_size)
    fields = {k: v for k, v in fields.items() if k not in ("architectures", "model_type", "torch_dtype")}
    return LlamaConfig(
        **fields,
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


def optimizer_param_groups(model: torch.nn.Module, weight_decay: float, tied: bool) -> list[dict]:
    """AdamW groups by the one weight-decay rule (`weight_decay.decays`)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (decay if decays(name, param, tied) else no_decay).append(param)
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
