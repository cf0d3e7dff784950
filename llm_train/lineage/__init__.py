"""Data lineage: from a clean document to the runs, steps and checkpoints that consumed it, and back."""
