"""Writers of clean corpora: deterministic, atomic `.jsonl.zst` shards."""

from data_prep.writers.jsonl_zst import JsonlZstWriter, doc_line, read_jsonl_zst

__all__ = ["JsonlZstWriter", "doc_line", "read_jsonl_zst"]
