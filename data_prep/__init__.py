"""data_prep: raw multilingual text -> clean corpus -> tokenizer -> packed Megatron datasets."""
