"""megatron-core pieces of the megatron backend, one responsibility per module.

layout: parallel degrees checked up front; model: spec -> TransformerConfig + GPTModel chunks;
parallel: process groups and seeds; optimizer: megatron's (CUDA) or a torch AdamW (CPU);
step: forward step, loss and reductions; checkpoint: dist_checkpointing save/load.
"""
