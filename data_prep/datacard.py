"""DATACARD.md and its charts: what went into a clean corpus and what was taken out.

Written from stats.json and the resolved config only, without dates or host names, so a
resumed run writes the same bytes as an uninterrupted one. A card is shared and may be
published: it names no machine path. Paths inside the corpus are shown relative to it; any other
absolute path (an opt-out list, an input glob, a bad record's file) by its file name, with the
file's sha256 when it is a file.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
from pathlib import Path
from typing import Any

from data_prep.config import dump_yaml_dict
from data_prep.pipeline.dropped import DROPPED_DIR
from data_prep.pipeline.state import Plan
from llm_train.utils.atomic import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)

CHART_DIR = "charts"


# An absolute path inside a longer string ("/data/raw/a.jsonl:12"): up to a space, quote or ":";
# not the "//host/..." of a URL.
_ABS_PATH = re.compile(r"(?<![\w.~/])/(?!/)[^\s:'\"`|()]+")


def public_path(path: str, corpus: Path) -> str:
    """How the card shows `path`: relative to the corpus, else the file name (+ sha256 of a file)."""
    if not os.path.isabs(path):
        return path
    try:
        return (
            os.path.relpath(path, corpus)
            if Path(path).resolve().is_relative_to(corpus.resolve())
            else _named(path)
        )
    except (OSError, ValueError):
        return _named(path)


def _named(path: str) -> str:
    name = os.path.basename(path.rstrip("/")) or "<root>"
    if os.path.isfile(path):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return f"{name} (sha256 {digest.hexdigest()[:16]})"
    return name


def public_text(text: str, corpus: Path) -> str:
    """`text` with every absolute path in it replaced by its `public_path`."""
    return _ABS_PATH.sub(lambda m: public_path(m.group(0), corpus), text)


def _public_values(value: Any, corpus: Path) -> Any:
    if isinstance(value, dict):
        return {k: _public_values(v, corpus) for k, v in value.items()}
    if isinstance(value, list):
        return [_public_values(v, corpus) for v in value]
    if isinstance(value, str):
        return public_text(value, corpus)
    return value


def _mb(n: float) -> str:
    return f"{n / 1e6:,.2f}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _bar_chart(labels: list[str], values: list[float], title: str, xlabel: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height = max(2.5, 0.32 * len(labels) + 1.2)
    fig, ax = plt.subplots(figsize=(7.5, height), dpi=100)
    ax.barh(labels[::-1], values[::-1], color="#3b6ea5")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    # No Software/date metadata: the same stats always give the same PNG bytes.
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def write_charts(output: Path, stats: dict[str, Any]) -> list[str]:
    written = []
    langs = stats["languages"]
    if langs:
        order = sorted(langs, key=lambda lang: -langs[lang]["bytes"])
        png = _bar_chart(
            order, [langs[lang]["bytes"] / 1e6 for lang in order], "Clean text per language", "MB (UTF-8)"
        )
        atomic_write_bytes(output / CHART_DIR / "bytes_per_language.png", png)
        written.append(f"{CHART_DIR}/bytes_per_language.png")
    reasons = stats["drop_reasons"]
    if reasons:
        order = list(reasons)[:30]
        png = _bar_chart(
            order, [reasons[r]["bytes"] / 1e6 for r in order], "Text removed, by reason", "MB (UTF-8)"
        )
        atomic_write_bytes(output / CHART_DIR / "drop_reasons.png", png)
        written.append(f"{CHART_DIR}/drop_reasons.png")
    return written


def render_datacard(plan: Plan, stats: dict[str, Any], charts: list[str], corpus: Path | None = None) -> str:
    corpus = corpus if corpus is not None else Path.cwd()
    t = stats["totals"]
    cfg = plan.config
    kept = t["bytes_out"] / t["bytes_in"] if t["bytes_in"] else 0.0
    out = [
        f"# Data card: {cfg.name}",
        "",
        f"Clean multilingual corpus written by `llm-train prep` (config sha256 `{plan.sha256[:16]}`).",
        f"{t['shards']} input shard(s), {_mb(t['input_bytes'])} MB on disk; "
        f"{t['docs_in']:,} documents ({_mb(t['bytes_in'])} MB of text) read, "
        f"{t['docs_out']:,} documents ({_mb(t['bytes_out'])} MB, {kept:.1%} of the text) kept, "
        f"{_mb(t['compressed_bytes_out'])} MB compressed.",
        "",
        "Layout: `<lang>/train/part-*.jsonl.zst` and `<lang>/validation/part-*.jsonl.zst`, one JSON document "
        "per line (`id`, `text`, `lang`, `source`, `url`, `meta`; `meta.input` is the provenance: input file "
        "and line, row or record offset). Counters: `stats.json`.",
        "",
        "## Languages",
        "",
    ]
    langs = stats["languages"]
    total_bytes = sum(v["bytes"] for v in langs.values()) or 1
    out.append(
        _table(
            [
                "lang",
                "docs",
                "MB",
                "share",
                "train docs",
                "validation docs",
                "MB compressed",
                "dedup clusters",
            ],
            [
                [
                    lang,
                    f"{v['docs']:,}",
                    _mb(v["bytes"]),
                    f"{v['bytes'] / total_bytes:.1%}",
                    f"{v.get('train_docs', 0):,}",
                    f"{v.get('validation_docs', 0):,}",
                    _mb(v.get("compressed_bytes", 0)),
                    f"{v.get('dedup_clusters', 0):,}",
                ]
                for lang, v in sorted(langs.items(), key=lambda kv: -kv[1]["bytes"])
            ],
        )
    )
    out += ["", "## Sources", ""]
    out.append(
        _table(
            ["source", "docs in", "MB in", "docs out", "MB out"],
            [
                [
                    name,
                    f"{v.get('docs_in', 0):,}",
                    _mb(v.get("bytes_in", 0)),
                    f"{v.get('docs_out', 0):,}",
                    _mb(v.get("bytes_out", 0)),
                ]
                for name, v in stats["sources"].items()
            ],
        )
    )
    out += ["", "## Pipeline", "", "Steps in order, with their parameters (thresholds) as configured:", ""]
    params = dict(cfg.enabled_steps())
    rows = []
    for step in stats["steps"]:
        c = step["counters"]
        p = params.get(step["name"])
        shown = ", ".join(f"{k}={public_text(str(v), corpus)}" for k, v in p.items()) if p else ""
        if step["name"] == "dedup":
            d = cfg.dedup
            shown = f"exact={d.exact}, near={d.near}, ngram={d.ngram}, bands={d.bands}, rows={d.rows}, seed={d.seed}"
        elif step["name"] == "read":
            shown = f"max_doc_bytes={cfg.input.max_doc_bytes}, text_field={cfg.input.text_field}"
        elif step["name"] == "write":
            shown = f"validation_fraction={cfg.output.validation_fraction}"
        rows.append(
            [
                f"`{step['name']}`",
                f"{int(c.get('docs_in', 0)):,}",
                f"{int(c.get('docs_out', 0)):,}",
                _mb(c.get("bytes_in", 0)),
                _mb(c.get("bytes_out", 0)),
                shown.replace("|", "\\|"),
            ]
        )
    out.append(_table(["step", "docs in", "docs out", "MB in", "MB out", "parameters"], rows))
    out += ["", "## Removed documents by reason", ""]
    audit = cfg.output.write_dropped
    if audit:
        out += [
            f"Every removed document is kept for audit, with the statistic that decided, under "
            f"`{DROPPED_DIR}/<step>/<reason>/part-*.jsonl.zst` (one JSON object per line: `id`, `lang`, "
            "`step`, `reason`, `stat`, `text`, ...); the last column links each reason's files. "
            "Unreadable input records are not copied there (see below).",
            "",
        ]
    header = ["reason", "step", "docs", "MB", "top languages"] + (["audit trail"] if audit else [])
    rows = []
    for reason, v in stats["drop_reasons"].items():
        row = [
            f"`{reason}`",
            v["step"],
            f"{v['docs']:,}",
            _mb(v["bytes"]),
            ", ".join(f"{lang} {n:,}" for lang, n in sorted(v["by_lang"].items(), key=lambda kv: -kv[1])[:5]),
        ]
        if audit:
            where = f"{DROPPED_DIR}/{v['step']}/{reason}/"
            row.append(f"[{where}]({where})" if v["step"] != "read" else "-")
        rows.append(row)
    out.append(_table(header, rows) if rows else "Nothing was removed.")
    optout = {r: v for r, v in stats["drop_reasons"].items() if r.startswith("optout") or r == "erased"}
    out += ["", "## Personal data and opt-outs", ""]
    if stats["pii"]:
        out.append(_table(["PII type", "replacements"], [[k, f"{v:,}"] for k, v in stats["pii"].items()]))
    else:
        out.append("No PII replacements were counted (no PII step, or nothing found).")
    out.append("")
    out.append(
        "Documents removed on opt-out / erasure requests: "
        + (", ".join(f"`{r}` {v['docs']:,}" for r, v in optout.items()) if optout else "none.")
    )
    out += _tdm_section(stats.get("tdm"))
    out += _erasure_section(stats.get("erasures"))
    if stats["bad_input_samples"]:
        out += ["", "## Unusable input records (samples)", ""]
        for reason, where in stats["bad_input_samples"].items():
            out.append(f"- `{reason}`: " + ", ".join(f"`{public_text(w, corpus)}`" for w in where))
    if charts:
        out += ["", "## Charts", ""]
        out += [f"![{Path(c).stem.replace('_', ' ')}]({c})" for c in charts]
    config_yaml = dump_yaml_dict(_public_values(cfg.identity(), corpus))
    out += ["", "## Resolved config", "", "```yaml", config_yaml.rstrip(), "```", ""]
    return "\n".join(out)


TOP_DOMAINS = 20


def _tdm_section(tdm: dict[str, Any] | None) -> list[str]:
    from data_prep.steps.tdm_stats import REASONS

    out = ["", "## Text-and-data-mining reservations (DSM Art. 4(3))", ""]
    if not tdm or not tdm.get("checked"):
        return [*out, "Not checked: the pipeline has no `tdm` step."]
    out.append(
        f"The `tdm` step checked {tdm['docs_in']:,} documents ({tdm['docs_with_http_headers']:,} with HTTP "
        f"response headers, {tdm['docs_with_html_meta']:,} with HTML `<meta>` tags, "
        f"{tdm['docs_checked_against_sites']:,} against the supplied site list) and removed "
        f"{tdm['reserved_docs']:,} reserved pages ({_mb(tdm['reserved_bytes'])} MB)."
    )
    if tdm["by_reason"]:
        rows = [
            [f"`{r}`", REASONS.get(r, ""), f"{v['docs']:,}", _mb(v["bytes"])]
            for r, v in tdm["by_reason"].items()
        ]
        out += ["", _table(["reason", "reservation", "docs", "MB"], rows)]
    domains = list(tdm["by_domain"].items())
    if domains:
        reasons = [r for r in REASONS if any(r in v for _, v in domains)]
        rows = [
            [host, f"{v['docs']:,}", *(f"{v.get(r, 0):,}" for r in reasons)]
            for host, v in domains[:TOP_DOMAINS]
        ]
        more = f" (top {TOP_DOMAINS} of {len(domains)})" if len(domains) > TOP_DOMAINS else ""
        out += ["", f"Reserved pages per domain{more}:", "", _table(["domain", "docs", *reasons], rows)]
    if tdm["robots_unparseable"]:
        out += ["", "Sites whose robots.txt snapshot could not be used (pages counted per reason):", ""]
        out += [
            f"- `{host}`: " + ", ".join(f"{why} {n:,}" for why, n in whys.items())
            for host, whys in tdm["robots_unparseable"].items()
        ]
    return out


def _erasure_section(erasures: list[dict[str, Any]] | None) -> list[str]:
    if not erasures:
        return []
    out = ["", "## Erasures after prep", ""]
    out.append(
        "Documents removed from this corpus by `llm-train data erase` (requests are recorded hashed in "
        "`erasures.jsonl`; counts here are included in every table above):"
    )
    out.append("")
    rows = [
        [
            e["time"],
            f"`{e['request_sha256'][:16]}`",
            ", ".join(e["selectors"]),
            f"{e['docs']:,}",
            _mb(e["bytes"]),
        ]
        for e in erasures
    ]
    return [*out, _table(["time (UTC)", "request", "selected by", "docs", "MB"], rows)]


def write_datacard(output: Path, plan: Plan, stats: dict[str, Any]) -> Path:
    charts = write_charts(output, stats) if plan.config.output.charts else []
    path = output / "DATACARD.md"
    atomic_write_text(path, render_datacard(plan, stats, charts, output))
    return path
