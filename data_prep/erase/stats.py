"""Keep stats.json, DATACARD.md and the HF card of a corpus true after an erasure.

The erased documents leave the clean totals, their languages, splits and sources, and appear as
the drop reason `erased` of a step `erase`; `erasures` lists each request (hash, selectors, counts,
time). Applied once per request (its hash is checked first), then the cards are rendered again from
stats.json, so a rerun after a kill at any point ends with the same files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from data_prep.erase.scan import FileHit
from data_prep.pipeline.state import Plan, Workdir
from data_prep.pipeline.stats import StepStats
from llm_train.utils.atomic import atomic_write_json

REASON = "erased"
STEP = "erase"


def load_stats(corpus: Path) -> dict[str, Any]:
    return json.loads((corpus / "stats.json").read_text(encoding="utf-8"))


def applied(stats: dict[str, Any], request_sha256: str) -> bool:
    return any(e["request_sha256"] == request_sha256 for e in stats.get("erasures", []))


def apply_erasure(
    stats: dict[str, Any], hits: list[FileHit], sizes_after: dict[str, int], record: dict
) -> None:
    """Subtract the clean documents of `hits` from `stats` (in place) and record the request."""
    clean = [h for h in hits if h.kind == "clean"]
    step = StepStats(STEP)
    totals = stats["totals"]
    for h in clean:
        size_delta = h.size_before - sizes_after.get(h.path, h.size_before)
        step.update("docs_in", h.docs, h.lang)
        step.update("bytes_in", h.bytes, h.lang)
        step.drop(REASON, h.bytes, h.lang)
        totals["docs_out"] -= h.docs
        totals["bytes_out"] -= h.bytes
        totals["compressed_bytes_out"] -= size_delta
        lang = stats["languages"].get(h.lang)
        if lang is not None:
            lang["docs"] -= h.docs
            lang["bytes"] -= h.bytes
            lang[f"{h.split}_docs"] = lang.get(f"{h.split}_docs", 0) - h.docs
            lang[f"{h.split}_bytes"] = lang.get(f"{h.split}_bytes", 0) - h.bytes
            lang["compressed_bytes"] = lang.get("compressed_bytes", 0) - size_delta
        for source, (docs, nbytes) in h.by_source.items():
            entry = stats["sources"].setdefault(source, {})
            entry["docs_out"] = entry.get("docs_out", 0) - docs
            entry["bytes_out"] = entry.get("bytes_out", 0) - nbytes
        for entry in stats.get("files", []):
            if entry["path"] == h.path:
                entry["docs"] -= h.docs
                entry["bytes"] = sizes_after.get(h.path, entry["bytes"])
    steps = stats["steps"]
    existing = next((s for s in steps if s["name"] == STEP), None)
    if existing is None:
        steps.append({"name": STEP, **step.to_json()})
    else:
        existing.update(StepStats.from_json(STEP, existing).merge(step).to_json())
    reason = stats["drop_reasons"].setdefault(REASON, {"step": STEP, "docs": 0, "bytes": 0, "by_lang": {}})
    for h in clean:
        reason["docs"] += h.docs
        reason["bytes"] += h.bytes
        reason["by_lang"][h.lang] = reason["by_lang"].get(h.lang, 0) + h.docs
    reason["by_lang"] = dict(sorted(reason["by_lang"].items()))
    stats["drop_reasons"] = dict(
        sorted(stats["drop_reasons"].items(), key=lambda kv: (-kv[1]["docs"], kv[0]))
    )
    stats.setdefault("erasures", []).append(record)


def write_stats_and_cards(corpus: Path, stats: dict[str, Any]) -> None:
    """stats.json, then the cards rendered from it (a kill between leaves stats ahead: a rerun
    renders the cards again)."""
    from data_prep.datacard import write_datacard
    from data_prep.hf_card import write_hf_card

    atomic_write_json(corpus / "stats.json", stats)
    write_datacard(corpus, Plan.load(Workdir(corpus)), stats)
    write_hf_card(corpus)
