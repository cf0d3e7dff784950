"""Stage 2, one task per language: exact + near duplicate clusters across all shards.

Reads only the small key arrays stage 1 wrote (memory-mapped; one band column at a time) and
writes the sorted keys to remove, as a directory renamed into place plus a done marker.
"""

from __future__ import annotations

import shutil
from typing import Any

import numpy as np

from data_prep.dedup.clusters import find_duplicates, make_keys
from data_prep.pipeline.state import Plan, Workdir
from llm_train.utils.atomic import atomic_replace_dir


def _load(workdir: Workdir, shards: list[int], lang: str, kind: str, column: int | None = None) -> np.ndarray:
    parts = []
    for i in shards:
        arr = np.load(workdir.shard_dir(i) / f"{lang}.{kind}.npy", mmap_mode="r")
        parts.append(np.asarray(arr[:, column] if column is not None else arr))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


class _Bands:
    """Band columns loaded lazily, so only one column of the whole language is in memory."""

    def __init__(self, workdir: Workdir, shards: list[int], lang: str, count: int):
        self.workdir, self.shards, self.lang = workdir, shards, lang
        self.shape = (None, count)

    def __getitem__(self, item):
        _, column = item
        return _load(self.workdir, self.shards, self.lang, "bands", column)


def dedup_language(plan: Plan, workdir: Workdir, index: int) -> dict[str, Any]:
    lang = workdir.languages()[index]
    cfg = plan.config.dedup
    shards = [i for i in range(len(plan.shards)) if lang in workdir.result("shard", i)["langs"]]
    keys = np.concatenate(
        [make_keys(i, np.load(workdir.shard_dir(i) / f"{lang}.rows.npy")) for i in shards]
    ).astype(np.uint64)
    exact = _load(workdir, shards, lang, "exact") if cfg.exact else None
    bands = _Bands(workdir, shards, lang, cfg.bands) if cfg.near else None
    found = find_duplicates(keys, exact, bands)
    final = workdir.lang_dir(lang)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.save(tmp / "exact.npy", found.exact)
    np.save(tmp / "near.npy", found.near)
    atomic_replace_dir(tmp, final)
    return {
        "lang": lang,
        "docs": int(len(keys)),
        "clusters": found.clusters,
        "exact_removed": int(len(found.exact)),
        "near_removed": int(len(found.near)),
    }
