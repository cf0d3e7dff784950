"""RMSNorm for the local (non Transformer Engine) layer spec.

megatron-core's local spec falls back to `torch.nn.RMSNorm` through `WrappedTorchNorm`, which refuses
sequence parallelism. Under sequence parallelism a norm needs nothing special in its forward pass: each
tensor-parallel rank normalizes its own slice of tokens, so only the weight gradient is partial.
megatron's `finalize_model_grads` all-reduces that gradient over TP for every parameter marked
`sequence_parallel`, so marking the weight is all it takes.
"""

from __future__ import annotations

import torch
from megatron.core.transformer.transformer_config import TransformerConfig


class RMSNorm(torch.nn.Module):
    """Llama RMSNorm (computed in fp32, like HF `LlamaRMSNorm`), built by megatron's `build_module`."""

    def __init__(self, config: TransformerConfig, hidden_size: int, eps: float = 1e-5, **_unused):
        super().__init__()
        device = "cpu" if config.use_cpu_initialization else torch.cuda.current_device()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(hidden_size, dtype=config.params_dtype, device=device))
        self.weight.sequence_parallel = config.sequence_parallel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * normed.to(x.dtype)
