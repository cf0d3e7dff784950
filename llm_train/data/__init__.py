"""Training data: packed Megatron datasets through megatron-core, sharded over data-parallel ranks."""
