"""Merge per-task results (done markers) into the run's stats.json, by addition.

Everything here is a function of the done markers only, so an interrupted and resumed run
produces the same stats.json as an uninterrupted one (no timings, no host names).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from data_prep.pipeline.state import Plan, Workdir
from data_prep.pipeline.stats import StepStats
from data_prep.steps.tdm_stats import tdm_summary

SAMPLES_PER_REASON = 5
PII_PREFIX = "pii."


def _merge_steps(order: list[str], results: list[dict]) -> dict[str, StepStats]:
    steps: dict[str, StepStats] = {name: StepStats(name) for name in order}
    for res in results:
        for step in res["steps"]:
            steps.setdefault(step["name"], StepStats(step["name"])).merge(step)
    return steps


def _source_table(read: StepStats, write: StepStats) -> dict[str, dict[str, int]]:
    sources: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for stats, direction in ((read, "in"), (write, "out")):
        for key, value in stats.counters.items():
            if key.startswith("source."):
                name, _, kind = key[len("source.") :].rpartition(".")
                sources[name][f"{kind}_{direction}"] += int(value)
    return {name: dict(sorted(c.items())) for name, c in sorted(sources.items())}


def _drop_reasons(steps: dict[str, StepStats]) -> dict[str, dict[str, Any]]:
    reasons: dict[str, dict[str, Any]] = {}
    for name, stats in steps.items():
        for key, value in stats.counters.items():
            if not key.startswith("dropped."):
                continue
            reason = key[len("dropped.") :]
            entry = reasons.setdefault(reason, {"step": name, "docs": 0, "bytes": 0, "by_lang": {}})
            entry["docs"] += int(value)
            entry["bytes"] += int(stats.counters.get(f"dropped_bytes.{reason}", 0))
            for lang, counters in stats.by_lang.items():
                if counters.get(key):
                    entry["by_lang"][lang] = entry["by_lang"].get(lang, 0) + int(counters[key])
    for entry in reasons.values():
        entry["by_lang"] = dict(sorted(entry["by_lang"].items()))
    return dict(sorted(reasons.items(), key=lambda kv: (-kv[1]["docs"], kv[0])))


def _languages(write: StepStats, dedup_results: list[dict]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for lang, c in sorted(write.by_lang.items()):
        out[lang] = {
            "docs": int(c.get("docs_out", 0)),
            "bytes": int(c.get("bytes_out", 0)),
            "train_docs": int(c.get("split.train.docs", 0)),
            "train_bytes": int(c.get("split.train.bytes", 0)),
            "validation_docs": int(c.get("split.validation.docs", 0)),
            "validation_bytes": int(c.get("split.validation.bytes", 0)),
            "compressed_bytes": int(c.get("compressed_bytes", 0)),
        }
    for res in dedup_results:
        entry = out.setdefault(res["lang"], {"docs": 0, "bytes": 0})
        entry["dedup_clusters"] = res["clusters"]
    return out


def build_stats(plan: Plan, workdir: Workdir) -> dict[str, Any]:
    n = len(plan.shards)
    shard_results = [workdir.result("shard", i) for i in range(n)]
    write_results = [workdir.result("write", i) for i in range(n)]
    langs = workdir.languages()
    dedup_results = [workdir.result("dedup", i) for i in range(len(langs))]
    order = [
        "read",
        *(s["name"] for s in (shard_results[0]["steps"][1:] if shard_results else [])),
        "dedup",
        "write",
    ]
    steps = _merge_steps(order, shard_results + write_results)
    read, write = steps["read"], steps["write"]

    samples: dict[str, list[str]] = {}
    for res in shard_results:
        for reason, where in res["bad_input_samples"].items():
            kept = samples.setdefault(reason, [])
            kept.extend(where[: SAMPLES_PER_REASON - len(kept)])
    pii: dict[str, int] = defaultdict(int)
    for stats in steps.values():
        for key, value in stats.counters.items():
            # `pii.<TYPE>` counts replacements; `pii.docs_*` counts documents, not a PII type.
            if key.startswith(PII_PREFIX) and not key.startswith(PII_PREFIX + "docs_"):
                pii[key[len(PII_PREFIX) :]] += int(value)

    return {
        "config_sha256": plan.sha256,
        "totals": {
            "shards": n,
            "input_bytes": sum(s.bytes for s in plan.shards),
            "docs_in": int(read["docs_in"]),
            "bytes_in": int(read["bytes_in"]),
            "docs_out": int(write["docs_out"]),
            "bytes_out": int(write["bytes_out"]),
            "compressed_bytes_out": int(write["compressed_bytes"]),
        },
        "steps": [{"name": name, **stats.to_json()} for name, stats in steps.items()],
        "drop_reasons": _drop_reasons(steps),
        "languages": _languages(write, dedup_results),
        "sources": _source_table(read, write),
        "pii": dict(sorted(pii.items())),
        "tdm": tdm_summary(steps),
        "dedup": {res["lang"]: {k: v for k, v in res.items() if k != "lang"} for res in dedup_results},
        "bad_input_samples": dict(sorted(samples.items())),
        "files": [f for res in write_results for f in res["files"]],
    }
