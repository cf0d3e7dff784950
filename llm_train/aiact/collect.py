"""Gather the training-content summary of a run: every figure from the data cards (stats.json) of the
corpora in its mixture and from the tokens the run actually consumed (llm_train/lineage), what only
the provider knows from the --info YAML (info.py). The result is a JSON-able dict that render.py
turns into Markdown; `missing` lists the fields left "to be completed by the provider".
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from llm_train.aiact.info import CATEGORIES, get, source_info
from llm_train.errors import DataError
from llm_train.lineage.docmap import file_sha256
from llm_train.lineage.trace import RunLineage

TEMPLATE = (
    "Template for the Public Summary of Training Content for general-purpose AI models "
    "(Article 53(1)(d) of Regulation (EU) 2024/1689), European Commission, 24 July 2025"
)
SIZE_RANGES = ((1e9, "Less than 1 billion tokens"), (1e13, "1 billion to 10 trillion tokens"))
LARGE_SHARE = 0.03  # a dataset above 3% of its category's data is listed by name
UPDATE_DAYS = 182  # the template asks for an update at least every six months


def size_range(tokens: int) -> str:
    for limit, label in SIZE_RANGES:
        if tokens < limit:
            return label
    return "More than 10 trillion tokens"


def top_domain_count(n_domains: int, sme: bool) -> int:
    """Top 10% of domains by size (SMEs: 5%, at most 1000), as the template asks."""
    if not n_domains:
        return 0
    n = math.ceil((0.05 if sme else 0.10) * n_domains)
    return min(n, 1000) if sme else n


def _corpus_stats(corpus: str, dataset: str) -> dict:
    path = Path(corpus) / "stats.json"
    if not path.is_file():
        raise DataError(
            f"the corpus {corpus} that dataset {dataset} was packed from is gone (moved or deleted): its data "
            "card is needed for the summary; put it back, or pack the mixture again from where it is now"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def _per_dataset_tokens(lineage: RunLineage) -> np.ndarray:
    """Tokens each dataset of the blend gave the kept trajectory (exact, from the blend index)."""
    tl, order = lineage.timeline, lineage.order
    x = np.arange(tl.consumed, dtype=np.int64)
    for a, b in tl.skipped:
        x = x[(x < a) | (x >= b)]
    counts = np.bincount(np.asarray(order.dataset_index)[x % order.size], minlength=len(order.datasets))
    return counts * int(order.datasets[0].seq_length) if order.datasets else counts


def collect(
    run_dir: str | Path,
    info: dict[str, Any],
    model_name: str | None = None,
    provider: str | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    lineage = RunLineage(run_dir)
    today = today or dt.date.today()
    order = lineage.order
    per_dataset = _per_dataset_tokens(lineage)
    total = int(per_dataset.sum())
    usage = lineage.consumption()

    langs: dict[str, int] = defaultdict(int)
    sources: dict[str, dict[str, Any]] = {}
    hosts_by_source: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    corpora: dict[str, dict] = {}
    untraced = []
    for k, ds in enumerate(order.datasets):
        dm = ds.docmap
        lang = (dm.lang if dm else None) or ds.name
        langs[lang] += int(per_dataset[k])
        if dm is None or k not in usage.tokens:
            untraced.append(ds.name)
            continue
        corpus = dm.meta.get("corpus")
        if corpus and corpus not in corpora:
            corpora[corpus] = _corpus_stats(corpus, ds.name)
        doc_tokens = usage.tokens[k]
        codes = np.asarray(dm.source_codes)
        for code, name in enumerate(dm.sources):
            mask = codes == code
            entry = sources.setdefault(
                name, {"name": name, "tokens": 0, "documents": 0, "crawled_documents": 0, "dates": []}
            )
            entry["tokens"] += int(doc_tokens[mask].sum())
            entry["documents"] += int(np.count_nonzero(doc_tokens[mask]))
            st = dm.meta.get("source_stats", {}).get(name, {})
            entry["crawled_documents"] += st.get("crawled", 0)
            entry["dates"] += [d for d in (st.get("first_date"), st.get("last_date")) if d]
        host_codes = np.asarray(dm.host_codes)
        with_host = host_codes >= 0
        for code, name in enumerate(dm.sources):
            mask = with_host & (codes == code) & (doc_tokens > 0)
            if mask.any():
                per_host = np.bincount(host_codes[mask], weights=doc_tokens[mask], minlength=len(dm.hosts))
                for h in np.flatnonzero(per_host):
                    hosts_by_source[name][dm.hosts[h]] += float(per_host[h])

    missing: list[str] = []

    def need(key: str, value: Any = None) -> Any:
        value = value if value is not None else get(info, key)
        if value is None or value == "":
            missing.append(key)
            return None
        return value

    categorized: dict[str, list[dict]] = {c: [] for c in CATEGORIES}
    for name, entry in sorted(sources.items(), key=lambda kv: (-kv[1]["tokens"], kv[0])):
        if not entry["tokens"]:
            continue  # in the mixture, never read by the run: not training content
        given = source_info(info, name)
        category = given.get("category") or ("crawled" if entry["crawled_documents"] else None)
        item = {
            "name": name,
            "tokens": entry["tokens"],
            "share": entry["tokens"] / total if total else 0.0,
            "documents": entry["documents"],
            "description": given.get("description"),
            "url": given.get("url"),
            "licence": given.get("licence"),
        }
        if category is None:
            missing.append(f"sources.{name}.category")
            item["category"] = None
            categorized.setdefault("unassigned", []).append(item)
            continue
        item["category"] = category
        if category in ("public", "licensed", "private") and not item["description"]:
            missing.append(f"sources.{name}.description")
        elif item["description"] is None:
            item["description"] = ""  # optional for this category: shown as "-"
        categorized[category].append(item)
    for items in categorized.values():
        cat_total = sum(i["tokens"] for i in items) or 1
        for i in items:
            i["large"] = i["tokens"] / cat_total > LARGE_SHARE

    crawled_names = {i["name"] for i in categorized["crawled"]}
    domains: dict[str, float] = defaultdict(float)
    for name in crawled_names:
        for host, tokens in hosts_by_source[name].items():
            domains[host] += tokens
    sme = bool(get(info, "provider.sme"))
    n_top = top_domain_count(len(domains), sme)
    crawled_total = sum(i["tokens"] for i in categorized["crawled"]) or 1
    top = sorted(domains.items(), key=lambda kv: (-kv[1], kv[0]))[:n_top]
    dates = sorted(d for n in crawled_names for d in sources[n]["dates"])

    tdm = _tdm(corpora)
    pii: dict[str, int] = defaultdict(int)
    for stats in corpora.values():
        for kind, n in (stats.get("pii") or {}).items():
            pii[kind] += int(n)
    erasures = sum(len(s.get("erasures") or []) for s in corpora.values())
    erased_docs = sum(e["docs"] for s in corpora.values() for e in (s.get("erasures") or []))
    pii_step = any(any(step["name"] == "pii" for step in s.get("steps", [])) for s in corpora.values())
    config_sha = (
        lineage.run.config_sha_file.read_text().strip() if lineage.run.config_sha_file.is_file() else None
    )
    crawlers = get(info, "crawling.crawlers")
    summary = {
        "template": TEMPLATE,
        "generated": today.isoformat(),
        "next_update_due": (today + dt.timedelta(days=UPDATE_DAYS)).isoformat(),
        "general": {
            "provider": {
                "name": need("provider.name", provider),
                "contact": need("provider.contact"),
                "authorised_representative": need("provider.authorised_representative"),
            },
            "model": {
                "name": need("model.name", model_name),
                "versions": get(info, "model.versions"),
                "dependencies": need("model.dependencies"),
                "placed_on_market": need("model.placed_on_market"),
                "continuous_training": need("model.continuous_training"),
            },
            "modalities": ["text"],
            "training_data_size": {"text": {"tokens": total, "range": size_range(total)}},
            "content_types": need("model.content_types"),
            "languages": [
                {"lang": lang, "tokens": n, "share": n / total if total else 0.0}
                for lang, n in sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "latest_data_collection": (dates[-1] if dates else None) or need("model.data_collection_end"),
        },
        "sources": {
            "public": {"used": bool(categorized["public"]), "datasets": categorized["public"]},
            "licensed": {"used": bool(categorized["licensed"]), "datasets": categorized["licensed"]},
            "private": {"used": bool(categorized["private"]), "datasets": categorized["private"]},
            "crawled": {
                "used": bool(categorized["crawled"]),
                "datasets": categorized["crawled"],
                "crawlers": (need("crawling.crawlers", crawlers) if categorized["crawled"] else crawlers),
                "description": need("crawling.description") if categorized["crawled"] else None,
                "period": {"from": dates[0], "to": dates[-1]} if dates else None,
                "domains_total": len(domains),
                "top_rule": f"top {'5% (at most 1000)' if sme else '10%'} of {len(domains)} domains by tokens consumed",
                "top_domains": [{"domain": h, "tokens": int(t), "share": t / crawled_total} for h, t in top],
            },
            "user": {
                "used": bool(categorized["user"]) or bool(get(info, "user_data.used")),
                "datasets": categorized["user"],
                "description": _described(info, "user_data", bool(categorized["user"]), need),
            },
            "synthetic": {
                "used": bool(categorized["synthetic"]) or bool(get(info, "synthetic_data.used")),
                "datasets": categorized["synthetic"],
                "description": _described(info, "synthetic_data", bool(categorized["synthetic"]), need),
            },
            "other": {
                "used": bool(categorized["other"]) or bool(get(info, "other_data.used")),
                "datasets": categorized["other"],
                "description": _described(info, "other_data", bool(categorized["other"]), need),
            },
            "unassigned": categorized.get("unassigned", []),
        },
        "processing": {
            "tdm": {**tdm, "code_of_practice_signatory": need("code_of_practice_signatory")},
            "illegal_content": need("illegal_content"),
            "personal_data": {
                "pii_step": pii_step,
                "replacements": dict(sorted(pii.items())),
                "erasure_requests": erasures,
                "erased_documents": erased_docs,
            },
            "other_information": get(info, "other_information"),
        },
        "regenerate": {
            "run": f"{lineage.run.path.parent.name}/{lineage.run.path.name}",
            "run_config_sha256": config_sha,
            "consumed_samples": lineage.timeline.consumed,
            "last_step": lineage.timeline.last_step,
            "corpora": [
                {
                    "name": Path(c).name,
                    "stats_sha256": file_sha256(Path(c) / "stats.json"),
                    "config_sha256": s.get("config_sha256"),
                }
                for c, s in sorted(corpora.items())
            ],
            "datasets": [
                {"name": d.name, "idx_sha256": d.docmap.meta["idx_sha256"] if d.docmap else None}
                for d in order.datasets
            ],
            "untraced_datasets": untraced,
        },
        "missing": missing,
    }
    for key in ("user_data.used", "synthetic_data.used", "other_data.used"):
        if get(info, key) is None and not categorized[key.split("_")[0]]:
            missing.append(key)
    if untraced:
        summary["processing"]["tdm"]["note"] = (
            f"datasets without a document map ({', '.join(untraced)}): their sources and domains are not counted"
        )
    return summary


def _described(info: dict, key: str, has_sources: bool, need) -> str | None:
    """A category's description: required when the provider says it used such data but the corpora
    show none of it; optional (None) otherwise."""
    if get(info, f"{key}.used") and not has_sources:
        return need(f"{key}.description")
    return get(info, f"{key}.description")


def _tdm(corpora: dict[str, dict]) -> dict[str, Any]:
    by_reason: dict[str, int] = defaultdict(int)
    domains: set[str] = set()
    unparseable: set[str] = set()
    checked, unchecked = [], []
    optout = 0
    for corpus, stats in sorted(corpora.items()):
        tdm = stats.get("tdm") or {}
        (checked if tdm.get("checked") else unchecked).append(Path(corpus).name)
        for reason, v in (tdm.get("by_reason") or {}).items():
            by_reason[reason] += v["docs"]
        domains.update(tdm.get("by_domain") or {})
        unparseable.update(tdm.get("robots_unparseable") or {})
        optout += sum(v["docs"] for r, v in stats.get("drop_reasons", {}).items() if r.startswith("optout"))
    return {
        "checked_corpora": checked,
        "unchecked_corpora": unchecked,
        "reserved_documents": sum(by_reason.values()),
        "by_reason": dict(sorted(by_reason.items())),
        "domains_with_reservations": len(domains),
        "sites_with_unusable_robots_txt": len(unparseable),
        "optout_list_removed": optout,
    }
