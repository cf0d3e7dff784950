"""Checkpoint conversion between the megatron backend's format and HuggingFace Llama.

`llama`: tensor mapping generated from the one model spec (pure functions on full tensors);
`megatron_io`: read any-layout megatron checkpoints as full tensors and write model-only ones;
`hf`: write / read HF LlamaForCausalLM directories (safetensors + config + tokenizer).
"""
