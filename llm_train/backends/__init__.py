"""Training backends (DeepSpeed, megatron-core) behind one interface: see `base.TrainBackend`."""
