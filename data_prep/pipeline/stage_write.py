"""Stage 3, one task per input shard: drop duplicates, split train/validation, write final files.

Output: `<out>/<lang>/<split>/part-<shard>.jsonl.zst`. Each file is written under a temp name and
renamed; the shard's done marker comes last, so a rerun rewrites the (identical) files of an
unfinished shard.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xxhash

from data_prep.dedup.clusters import key_row, key_shard
from data_prep.document import utf8_size
from data_prep.pipeline.dropped import DroppedWriter
from data_prep.pipeline.state import Plan, Workdir
from data_prep.pipeline.stats import StepStats
from data_prep.writers import JsonlZstWriter, read_jsonl_zst

SPLIT_SEED = 0x5EED
SPLITS = ("train", "validation")


def is_validation(doc_id: str, fraction: float) -> bool:
    """Stable per id: the same document lands in the same split on every run and machine."""
    return (
        fraction > 0 and xxhash.xxh64_intdigest(doc_id.encode("utf-8"), seed=SPLIT_SEED) < fraction * 2.0**64
    )


def part_path(workdir: Workdir, lang: str, split: str, index: int):
    return workdir.output / lang / split / f"part-{index:05d}.jsonl.zst"


def _removed_rows(workdir: Workdir, langs: list[str], index: int) -> dict[int, str]:
    removed: dict[int, str] = {}
    for lang in langs:
        for kind in ("exact", "near"):
            keys = np.load(workdir.lang_dir(lang) / f"{kind}.npy")
            shard = key_shard(keys)
            lo, hi = np.searchsorted(shard, [index, index + 1])
            for row in key_row(keys[lo:hi]).tolist():
                removed[row] = f"dedup_{kind}"
    return removed


def write_shard(plan: Plan, workdir: Workdir, index: int) -> dict[str, Any]:
    out_cfg = plan.config.output
    stage1 = workdir.result("shard", index)
    removed = _removed_rows(workdir, stage1["langs"], index)
    dedup, write = StepStats("dedup"), StepStats("write")
    writers: dict[tuple[str, str], JsonlZstWriter] = {}
    dropped = DroppedWriter(workdir.output, index) if out_cfg.write_dropped else None
    docs_path = workdir.shard_dir(index) / "docs.jsonl.zst"
    try:
        for row, doc in enumerate(read_jsonl_zst(docs_path)):
            nbytes = utf8_size(doc.text)
            lang = doc.lang
            dedup.update("docs_in", 1, lang)
            dedup.update("bytes_in", nbytes, lang)
            reason = removed.get(row)
            if reason:
                dedup.drop(reason, nbytes, lang)
                if dropped is not None:
                    dropped("dedup", reason, doc, None)
                continue
            dedup.update("docs_out", 1, lang)
            dedup.update("bytes_out", nbytes, lang)
            fraction = out_cfg.validation_fraction_per_lang.get(lang, out_cfg.validation_fraction)
            split = "validation" if is_validation(doc.id, fraction) else "train"
            writer = writers.get((lang, split))
            if writer is None:
                writer = writers[(lang, split)] = JsonlZstWriter(part_path(workdir, lang, split, index))
            writer.write(doc)
            for key, value in (("docs_in", 1), ("bytes_in", nbytes), ("docs_out", 1), ("bytes_out", nbytes)):
                write.update(key, value, lang)
            write.update(f"split.{split}.docs", 1, lang)
            write.update(f"split.{split}.bytes", nbytes, lang)
            write.update(f"source.{doc.source}.docs", 1)
            write.update(f"source.{doc.source}.bytes", nbytes)
        files = []
        for (lang, _split), writer in sorted(writers.items()):
            path = writer.commit()
            size = os.path.getsize(path)
            write.update("compressed_bytes", size, lang)
            files.append({"path": str(path.relative_to(workdir.output)), "docs": writer.docs, "bytes": size})
        if dropped is not None:
            dropped.commit()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        if dropped is not None:
            dropped.abort()
        raise
    return {
        "shard": index,
        "files": files,
        "steps": [{"name": "dedup", **dedup.to_json()}, {"name": "write", **write.to_json()}],
    }
