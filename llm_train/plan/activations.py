"""Activation memory: bytes autograd keeps per token and layer, per implementation.

Counted from what each implementation saves for backward (no dropout, flash/SDPA attention, so
no seq x seq buffers):

- "hf" (transformers Llama, the DeepSpeed backend). Each RMSNorm keeps its fp32 input, the
  normalized tensor and its output (3h fp32 values in fp32; 4h + 2e*h bytes in bf16, where the
  fp32 upcast is the kept input); attention keeps rotated q, k, v and the attention output; the
  SwiGLU MLP keeps gate, up, silu(gate) and their product (4f); GELU keeps fc1 and gelu out (2f).
  Checked against torch's MemTracker on the real model in tests/test_plan_memory.py.
- "megatron" (megatron-core with fused norm+linear and flash attention, Korthikanti et al. 2022
  without dropout masks): each norm keeps input and output (2h), attention q, k, v and output,
  SwiGLU keeps the fused fc1 output (2f) and its product (f); GELU keeps fc1 out and gelu out.
  With TP, the matmul activations split over TP ranks; the norm activations split only with
  sequence parallelism. Context parallelism splits the sequence.

Selective recompute (core attention) frees nothing extra here because flash attention already
keeps no seq x seq tensors; it only costs FLOPs. Full recompute keeps each layer's input plus one
layer's activations while that layer is recomputed.
"""

from __future__ import annotations

from llm_train.config.model import ModelConfig


def _mlp_elements(m: ModelConfig, impl: str) -> int:
    f = m.ffn_hidden_size
    if m.mlp == "gelu":
        return 2 * f
    return 4 * f if impl == "hf" else 3 * f


def layer_bytes_per_token(m: ModelConfig, impl: str, e: int, tp: int = 1, sp: bool = False) -> float:
    """Bytes kept for backward per token of one transformer layer (one TP rank's share)."""
    h, kv = m.hidden_size, m.kv_heads * m.head_dim
    lse = 4 * m.num_heads / tp  # fp32 log-sum-exp per head from the fused attention kernel
    if impl == "hf":
        norm = 12 * h if e == 4 else (4 + 2 * e) * h
        attention = e * (2 * h + 2 * kv)
        return 2 * norm + attention + e * _mlp_elements(m, impl) + lse
    norms = e * 4 * h / (tp if sp else 1)
    sharded = e * (2 * h + 2 * kv + _mlp_elements(m, impl)) / tp
    return norms + sharded + lse


def layer_input_bytes_per_token(m: ModelConfig, e: int, tp: int = 1, sp: bool = False) -> float:
    """What full recompute keeps per layer: the layer input (sharded over TP only with SP)."""
    return e * m.hidden_size / (tp if sp else 1)


def logits_bytes_per_token(m: ModelConfig, impl: str, e: int, tp: int = 1) -> tuple[float, float]:
    """(kept through backward, transient at the start of backward) for final norm, output layer, loss.

    HF: the final RMSNorm keeps what a layer's norm keeps; the loss upcasts the logits to fp32 and
    log_softmax keeps its fp32 output (the logits themselves are dropped with the model output);
    backward makes the fp32 gradients of the log-probs and of the logits. Megatron's
    vocab-parallel cross entropy keeps an fp32 softmax and writes its gradient in place, then
    casts it to the model dtype.
    """
    v, h = m.padded_vocab_size / tp, m.hidden_size
    if impl == "hf":
        norm = 12 * h if e == 4 else (4 + 2 * e) * h
        return norm + 4 * v, 8 * v
    return 2 * e * h / tp + 4 * v, e * v
