"""Stage 1, one task per input shard: read -> per-document steps -> intermediate docs + dedup keys.

Memory is bounded by the shard: documents stream from reader to writer; only the per-document
dedup keys (8 bytes + 8 per band) and a batch of shingle hashes are held.
"""

from __future__ import annotations

import logging
import shutil
from collections import defaultdict
from typing import Any

import numpy as np

from data_prep.dedup.signatures import MinHashParams, SignatureBatch, exact_hash, shingle_hashes, words
from data_prep.pipeline.dropped import DroppedWriter
from data_prep.pipeline.state import Plan, Workdir
from data_prep.pipeline.stats import StepStats
from data_prep.pipeline.step import PipelineStep, run_steps
from data_prep.readers import ReaderOptions, ReadResult, make_reader
from data_prep.writers import JsonlZstWriter
from llm_train.utils.atomic import atomic_replace_dir

log = logging.getLogger(__name__)

UNDETERMINED = "und"
BAND_BATCH = 4096


class _LangKeys:
    """Dedup keys of one language within a shard."""

    def __init__(self, params: MinHashParams):
        self.rows: list[int] = []
        self.exact: list[int] = []
        self.batch = SignatureBatch(params)
        self.bands: list[np.ndarray] = []

    def save(self, directory, lang: str, near: bool, exact: bool) -> None:
        np.save(directory / f"{lang}.rows.npy", np.asarray(self.rows, dtype=np.uint32))
        if exact:
            np.save(directory / f"{lang}.exact.npy", np.asarray(self.exact, dtype=np.uint64))
        if near:
            if len(self.batch):
                self.bands.append(self.batch.bands())
            np.save(directory / f"{lang}.bands.npy", np.concatenate(self.bands))


def process_shard(plan: Plan, workdir: Workdir, index: int, steps: list[PipelineStep]) -> dict[str, Any]:
    cfg = plan.config
    shard = plan.shards[index]
    opts = ReaderOptions(
        text_field=cfg.input.text_field,
        id_field=cfg.input.id_field,
        source=cfg.input.source,
        max_doc_bytes=cfg.input.max_doc_bytes,
    )
    dedup = cfg.dedup
    params = MinHashParams(dedup.ngram, dedup.bands, dedup.rows, dedup.seed)
    final = workdir.shard_dir(index)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)

    dropped = DroppedWriter(workdir.output, index) if cfg.output.write_dropped else None
    for step in steps:
        step.stats = StepStats(step.stats.name)
        step.on_drop = dropped
    result = ReadResult()
    docs = make_reader(shard.format, opts).read(shard.path, result)
    docs = run_steps(steps, docs)

    keys: dict[str, _LangKeys] = defaultdict(lambda: _LangKeys(params))
    writer = JsonlZstWriter(tmp / "docs.jsonl.zst")
    try:
        for row, doc in enumerate(docs):
            doc.lang = doc.lang or UNDETERMINED
            writer.write(doc)
            lk = keys[doc.lang]
            lk.rows.append(row)
            if dedup.exact or dedup.near:
                tokens = words(doc.text)
                if dedup.exact:
                    lk.exact.append(exact_hash(tokens))
                if dedup.near:
                    lk.batch.add(shingle_hashes(tokens, params.ngram))
                    if len(lk.batch) >= BAND_BATCH:
                        lk.bands.append(lk.batch.bands())
        writer.commit()
        if dropped is not None:
            dropped.commit()
    except BaseException:
        writer.abort()
        if dropped is not None:
            dropped.abort()
        raise
    finally:
        for step in steps:
            step.on_drop = None
    for lang, lk in keys.items():
        lk.save(tmp, lang, near=dedup.near, exact=dedup.exact)
    atomic_replace_dir(tmp, final)
    result.log_samples(shard.path)
    return {
        "shard": index,
        "path": shard.path,
        "langs": sorted(keys),
        "steps": [{"name": "read", **result.stats.to_json()}]
        + [{"name": s.stats.name, **s.stats.to_json()} for s in steps],
        "bad_input_samples": {k: v for k, v in sorted(result.samples.items())},
    }
