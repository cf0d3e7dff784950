"""`llm-train pack --verify DIR`: re-read every dataset through megatron-core and check it.

Checks, per dataset in `pack_stats.json`: the .bin/.idx open with megatron-core's own
`IndexedDataset`; document and token counts equal the recorded ones; the token dtype is the one
recorded and fits the tokenizer; every document ends with EOD and has no other EOD; a seeded
sample of documents decodes back to text with the tokenizer. Token ids are checked against the
vocabulary in chunks, so memory stays bounded on large datasets.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from data_prep.pack import indexed
from data_prep.pack.packer import STATS_FILE
from llm_train.data.tokenizer_dir import load_tokenizer
from llm_train.errors import DataError

CHUNK_TOKENS = 1 << 24


def verify(
    directory: str | Path, tokenizer_dir: str | Path | None = None, sample_docs: int = 5, seed: int = 0
) -> dict:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    root = Path(directory)
    stats_path = root / STATS_FILE
    if not stats_path.is_file():
        raise DataError(f"{root}: no {STATS_FILE}; is this the output of `llm-train pack`?")
    stats = json.loads(stats_path.read_text())
    info = load_tokenizer(tokenizer_dir or stats["tokenizer"]["path"])
    if info.sha256 != stats["tokenizer"]["sha256"]:
        raise DataError(f"{root} was packed with another tokenizer than {info.path} (sha256 differs)")
    rng = random.Random(seed)
    results: dict[str, dict] = {}
    problems: list[str] = []
    for name, expected in stats["datasets"].items():
        prefix = root / expected["prefix"]
        errors: list[str] = []
        header = indexed.read_header(prefix)
        if header.dtype.name != stats["dtype"]:
            errors.append(f"dtype {header.dtype.name}, pack_stats says {stats['dtype']}")
        ds = IndexedDataset(str(prefix))
        lengths = ds.sequence_lengths
        docs, tokens = len(ds), int(lengths.sum(dtype=np.int64))
        if docs != expected["documents"]:
            errors.append(f"{docs} documents, pack_stats says {expected['documents']}")
        if tokens != expected["tokens"]:
            errors.append(f"{tokens} tokens, pack_stats says {expected['tokens']}")
        if indexed.bin_path(prefix).stat().st_size != tokens * header.dtype.itemsize:
            errors.append(".bin size does not match the token count in .idx")
        errors += _check_tokens(prefix, header.dtype, lengths, info.vocab_size, info.eod_id)
        samples = []
        for index in sorted(rng.sample(range(docs), min(sample_docs, docs))):
            ids = ds[index]
            text = info.tokenizer.decode(ids[:-1].tolist(), skip_special_tokens=False)
            if "\ufffd" in text:
                errors.append(f"document {index} decodes to invalid UTF-8")
            samples.append({"index": index, "tokens": len(ids), "text": text[:200]})
        results[name] = {
            "documents": docs,
            "tokens": tokens,
            "ok": not errors,
            "errors": errors,
            "samples": samples,
        }
        problems += [f"{name}: {e}" for e in errors]
    return {"ok": not problems, "problems": problems, "datasets": results}


def _check_tokens(prefix: Path, dtype: np.dtype, lengths: np.ndarray, vocab: int, eod: int) -> list[str]:
    """Stream the .bin: ids < vocab, EOD exactly at each document end."""
    data = np.memmap(indexed.bin_path(prefix), dtype=dtype, mode="r")
    ends = np.cumsum(lengths, dtype=np.int64) - 1
    errors = []
    eod_positions = 0
    for start in range(0, len(data), CHUNK_TOKENS):
        chunk = np.asarray(data[start : start + CHUNK_TOKENS])
        if len(chunk) and int(chunk.max()) >= vocab:
            errors.append(f"token id {int(chunk.max())} >= vocabulary size {vocab}")
            break
        eod_positions += int(np.count_nonzero(chunk == eod))
    if len(ends) and not np.all(data[ends] == eod):
        errors.append("a document does not end with EOD")
    if eod_positions != len(lengths):
        errors.append(f"{eod_positions} EOD tokens for {len(lengths)} documents (EOD inside a document)")
    del data
    return errors
