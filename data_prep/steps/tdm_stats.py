"""stats.json's `tdm` section: what the `tdm` step checked and dropped, per reason and per domain.

Built from the step's merged counters (see steps/tdm.py), so it is as resumable and
order-independent as the rest of stats.json. The data card and the AI Act summary read it.
"""

from __future__ import annotations

from typing import Any

from data_prep.pipeline.stats import StepStats

STEP = "tdm"
REASONS = {
    "tdm_header": "TDMRep `tdm-reservation: 1` HTTP header",
    "tdm_meta": 'TDMRep `<meta name="tdm-reservation" content="1">`',
    "tdm_x_robots_tag": "`noai`-style directive in the `X-Robots-Tag` header",
    "tdm_robots_meta": "`noai`-style directive in a robots `<meta>` tag",
    "tdm_site_list": "domain on the supplied reservation list",
    "tdm_site_robots": "robots.txt snapshot disallows a named AI crawler",
    "tdm_robots_unparseable": "robots.txt snapshot unusable (dropped as configured)",
}


def tdm_summary(steps: dict[str, StepStats]) -> dict[str, Any]:
    stats = steps.get(STEP)
    if stats is None:
        return {"checked": False}
    c = stats.counters
    by_reason = {
        reason: {
            "docs": int(c.get(f"dropped.{reason}", 0)),
            "bytes": int(c.get(f"dropped_bytes.{reason}", 0)),
        }
        for reason in REASONS
        if c.get(f"dropped.{reason}")
    }
    by_domain: dict[str, dict[str, int]] = {}
    unparseable: dict[str, dict[str, int]] = {}
    for key, value in c.items():
        if key.startswith("tdm_domain."):
            _, reason, host = key.split(".", 2)
            entry = by_domain.setdefault(host, {"docs": 0})
            entry["docs"] += int(value)
            entry[reason] = entry.get(reason, 0) + int(value)
        elif key.startswith("robots_unparseable."):
            _, why, host = key.split(".", 2)
            unparseable.setdefault(host, {})[why] = int(value)
    return {
        "checked": True,
        "docs_in": int(c.get("docs_in", 0)),
        "docs_with_http_headers": int(c.get("checked.http_headers", 0)),
        "docs_with_html_meta": int(c.get("checked.html_meta", 0)),
        "docs_checked_against_sites": int(c.get("checked.site", 0)),
        "reserved_docs": sum(v["docs"] for v in by_reason.values()),
        "reserved_bytes": sum(v["bytes"] for v in by_reason.values()),
        "by_reason": by_reason,
        "by_domain": dict(sorted(by_domain.items(), key=lambda kv: (-kv[1]["docs"], kv[0]))),
        "robots_unparseable": dict(sorted(unparseable.items())),
    }
