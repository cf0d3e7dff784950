"""Core attention of the local (non-Transformer-Engine) layers through torch's fused SDPA.

megatron-core's local `DotProductAttention` materialises the [b, heads, s, s] scores and
probabilities and keeps them for backward: about 1.6 GB per layer and sequence at 4096 tokens in
bf16+fp32, which caps the micro batch on an 80 GB GPU and costs bandwidth. Where Transformer Engine is
missing (a site's container without it), this module keeps megatron's interface and parameters (none)
and computes the same causal attention with `torch.nn.functional.scaled_dot_product_attention`:
FlashAttention / memory-efficient kernels on GPUs, the math kernel on CPUs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from megatron.core.transformer.dot_product_attention import DotProductAttention


class SDPAttention(DotProductAttention):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.config.apply_query_key_layer_scaling or self.config.softmax_type != "vanilla":
            raise ValueError("SDPAttention: query-key layer scaling and softmax offsets are not supported")

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attention_mask: torch.Tensor | None,
        attn_mask_type=None,
        attention_bias: torch.Tensor | None = None,
        packed_seq_params=None,
    ) -> torch.Tensor:
        if packed_seq_params is not None or attention_bias is not None or attention_mask is not None:
            raise ValueError("SDPAttention: causal attention only (no mask, bias or packed sequences)")
        # megatron: [s, b, heads, d] -> torch: [b, heads, s, d]
        q, k, v = (t.permute(1, 2, 0, 3) for t in (query, key, value))
        context = F.scaled_dot_product_attention(
            q,
            k,
            v,
            is_causal=True,
            scale=self.softmax_scale,
            dropout_p=self.attention_dropout.p if self.training else 0.0,
            enable_gqa=q.shape[1] != k.shape[1],
        )
        b, h, s, d = context.shape
        return context.permute(2, 0, 1, 3).reshape(s, b, h * d)
