"""Checkpoint evaluation: per-language bits-per-byte, multiple-choice tasks, an lm-evaluation-harness
backend, a checkpoint watcher (in-process or Slurm) and reports with plots."""

# Written into every result record: bump when a change can move a number (scoring, windows, BOS policy).
EVAL_CODE_VERSION = "1"
