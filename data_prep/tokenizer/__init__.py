"""Multilingual byte-level BPE: language-balanced training and fertility.

Loading a tokenizer directory is `llm_train.data.tokenizer_dir.load_tokenizer` (one loader for prep,
the trainer and evals).
"""
