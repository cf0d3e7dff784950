"""Erasure after prep: remove documents from a clean corpus, keep its stats and card true, rebuild its
packs, and say which runs and checkpoints consumed them (`llm-train data erase`; run.py)."""
