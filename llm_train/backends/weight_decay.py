"""Which parameters weight decay applies to: one rule for both backends' parameter names.

Decay the weight matrices of the layers and an untied output head; never norms, biases or the
input embedding (nor an output head tied to it, which is the same matrix). HF Llama names the
embedding `model.embed_tokens` and the head `lm_head`; megatron-core `embedding.word_embeddings`
and `output_layer` (its last pipeline stage holds the tied copy under that name).
"""

from __future__ import annotations

import torch


def decays(name: str, param: torch.Tensor, tied_embeddings: bool) -> bool:
    if param.ndim < 2 or name.endswith(".bias"):
        return False
    if "embed_tokens" in name or "word_embeddings" in name:
        return False
    return not (tied_embeddings and ("lm_head" in name or "output_layer" in name))
