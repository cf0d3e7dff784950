"""The training-content summary as Markdown, in the order of the Commission's template (1 general
information, 2 list of data sources, 3 relevant data processing aspects): one pure function of the
summary dict collect.py builds, snapshot-tested like the sbatch scripts. Fields the provider has not
given read "To be completed by the provider."
"""

from __future__ import annotations

from typing import Any

from llm_train.aiact.info import TODO

TODO_TEXT = f"*{TODO[0].upper()}{TODO[1:]}.*"
TDM_REASONS = {
    "tdm_header": "TDMRep `tdm-reservation: 1` HTTP header",
    "tdm_meta": "TDMRep `tdm-reservation` HTML meta tag",
    "tdm_x_robots_tag": "`noai`-style `X-Robots-Tag` header",
    "tdm_robots_meta": "`noai`-style robots meta tag",
    "tdm_site_list": "domain on the provider's reservation list",
    "tdm_site_robots": "robots.txt disallowing a named AI crawler",
    "tdm_robots_unparseable": "unusable robots.txt (dropped as configured)",
}


def _v(value: Any) -> str:
    if value is None or value == "" or value == []:
        return TODO_TEXT
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(_v(v) if not isinstance(v, dict) else _crawler(v) for v in value)
    return str(value).replace("\n", " ")


def _crawler(c: dict) -> str:
    parts = [str(c.get("name", "?"))]
    if c.get("purpose"):
        parts.append(f"purpose: {c['purpose']}")
    if c.get("behaviour"):
        parts.append(f"behaviour: {c['behaviour']}")
    return f"{parts[0]} ({'; '.join(parts[1:])})" if len(parts) > 1 else parts[0]


def _tokens(n: int) -> str:
    return f"{n:,}"


def _share(x: float) -> str:
    return f"{x:.1%}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return out + ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]


def _datasets(items: list[dict]) -> list[str]:
    rows = [
        [
            i["name"],
            _tokens(i["tokens"]),
            _share(i["share"]),
            _v(i["description"]) if i.get("description") is None else (i["description"] or "-"),
            i.get("licence") or "-",
            i.get("url") or "-",
        ]
        for i in items
    ]
    return [
        "",
        *_table(
            ["source", "tokens used", "share of training tokens", "description", "licence", "link"], rows
        ),
    ]


def _category(title: str, part: dict, lead: str, list_large: bool = False) -> list[str]:
    out = ["", title, "", f"- {lead}: {_v(part['used'])}"]
    if part.get("description") is not None or (part["used"] and not part.get("datasets")):
        out.append(f"- Description: {_v(part.get('description'))}")
    datasets = part.get("datasets") or []
    if not datasets:
        return out
    if not list_large:
        return [*out, "- Sources:", *_datasets(datasets)]
    # The template lists large datasets (above 3% of the category) by name, the rest in general terms.
    large = [d for d in datasets if d.get("large")]
    small = [d for d in datasets if not d.get("large")]
    if large:
        out += ["- Large datasets (above 3% of this category's data):", *_datasets(large)]
    if small:
        listed = ", ".join(f"{d['name']} ({_tokens(d['tokens'])} tokens)" for d in small)
        out += ["", f"- Other datasets of this category: {listed}"]
    return out


def render_markdown(s: dict[str, Any]) -> str:
    g, src, p, regen = s["general"], s["sources"], s["processing"], s["regenerate"]
    model = g["model"]
    out = [
        f"# Public summary of training content: {_v(model['name'])}",
        "",
        f"Following the {s['template']}.",
        f"Generated on {s['generated']} by `llm-train report ai-act` from the run's data lineage and the data "
        f"cards of its corpora; update due by {s['next_update_due']} (at least every six months, or when the "
        "training data changes).",
        "",
        "## 1. General information",
        "",
        "### 1.1 Provider identification",
        "",
        f"- Provider name and contact details: {_v(g['provider']['name'])}; {_v(g['provider']['contact'])}",
        f"- Authorised representative name and contact details: {_v(g['provider']['authorised_representative'])}",
        "",
        "### 1.2 Model identification",
        "",
        f"- Versioned model name(s): {_v(model['versions'] or model['name'])}",
        f"- Model dependencies (general-purpose model(s) this model modifies or fine-tunes): {_v(model['dependencies'])}",
        f"- Date of placement of the model on the Union market: {_v(model['placed_on_market'])}",
        "",
        "### 1.3 Modalities, overall training data size and other characteristics",
        "",
        "- Modality: "
        + ", ".join(
            f"[{'x' if m in g['modalities'] else ' '}] {m}"
            for m in ("text", "image", "audio", "video", "other")
        ),
        f"- Training data size (text): {g['training_data_size']['text']['range']} "
        f"({_tokens(g['training_data_size']['text']['tokens'])} tokens consumed in training)",
        f"- Types of content: {_v(g['content_types'])}",
        f"- Latest date of data acquisition or collection for model training: {_v(g['latest_data_collection'])}",
        f"- The model is continuously trained on new data: {_v(model['continuous_training'])}",
        "- Linguistic characteristics of the overall training data (tokens consumed per language):",
        "",
        *_table(
            ["language", "tokens", "share"],
            [[x["lang"], _tokens(x["tokens"]), _share(x["share"])] for x in g["languages"]],
        ),
        "",
        "## 2. List of data sources",
    ]
    out += _category(
        "### 2.1 Publicly available datasets", src["public"], "Publicly available datasets used", True
    )
    out += ["", "### 2.2 Private non-publicly available datasets obtained from third parties"]
    out += _category(
        "#### 2.2.1 Datasets commercially licensed by rightsholders or their representatives",
        src["licensed"],
        "Commercially licensed datasets used",
    )
    out += _category("#### 2.2.2 Private datasets obtained from other third parties", src["private"], "Used")
    crawled = src["crawled"]
    out += [
        "",
        "### 2.3 Data crawled and scraped from online sources",
        "",
        f"- Crawled or scraped data used: {_v(crawled['used'])}",
    ]
    if crawled["used"]:
        period = crawled["period"]
        out += [
            f"- Crawlers (name, purpose, behaviour): {_v(crawled['crawlers'])}",
            f"- Period of data collection: {period['from']} to {period['to']}"
            if period
            else f"- Period of data collection: {TODO_TEXT}",
            f"- Type of content and online sources crawled: {_v(crawled['description'])}",
        ]
        out += ["- Sources:", *_datasets(crawled["datasets"])]
        out += ["", f"Most relevant domain names ({crawled['top_rule']}):", ""]
        out += (
            _table(
                ["domain", "tokens", "share of crawled tokens"],
                [[d["domain"], _tokens(d["tokens"]), _share(d["share"])] for d in crawled["top_domains"]],
            )
            if crawled["top_domains"]
            else ["No domain names recorded for the crawled documents."]
        )
    out += _category(
        "### 2.4 User data", src["user"], "Data from user interactions or the provider's other services used"
    )
    out += _category("### 2.5 Synthetic data", src["synthetic"], "Synthetic data used")
    out += _category("### 2.6 Other sources of data", src["other"], "Other data used")
    if src["unassigned"]:
        out += [
            "",
            "Sources not yet assigned to a category above (give `sources.<name>.category` in the --info file):",
        ]
        out += _datasets(src["unassigned"])
    tdm = p["tdm"]
    out += [
        "",
        "## 3. Relevant data processing aspects",
        "",
        "### 3.1 Respect of reservation of rights from the text and data mining exception or limitation",
        "",
        f"- Signatory of the General-Purpose AI Code of Practice: {_v(tdm['code_of_practice_signatory'])}",
        "- Measures implemented before training to respect reservations of rights (DSM Directive Art. 4(3)): "
        "every page of the corpora was checked, before training, for machine-readable opt-outs: the TDMRep "
        "`tdm-reservation` HTTP header and HTML meta tag, `noai`-style robots meta tags and `X-Robots-Tag` "
        "headers, and, where supplied, the sites' robots.txt (for the named AI crawlers) and a list of reserved "
        "domains. A page carrying a reservation was removed.",
        f"- Corpora checked: {', '.join(tdm['checked_corpora']) or 'none'}"
        + (f"; not checked: {', '.join(tdm['unchecked_corpora'])}" if tdm["unchecked_corpora"] else ""),
        f"- Documents removed for a reservation of rights: {_tokens(tdm['reserved_documents'])}, from "
        f"{_tokens(tdm['domains_with_reservations'])} domain(s); sites whose robots.txt could not be read: "
        f"{_tokens(tdm['sites_with_unusable_robots_txt'])}",
    ]
    if tdm["by_reason"]:
        out += [
            "",
            *_table(
                ["reservation", "documents removed"],
                [[TDM_REASONS.get(r, r), _tokens(n)] for r, n in tdm["by_reason"].items()],
            ),
        ]
    out.append("")
    out.append(
        f"- Documents removed on opt-out requests (opt-out list): {_tokens(tdm['optout_list_removed'])}"
    )
    if tdm.get("note"):
        out.append(f"- Note: {tdm['note']}")
    pd = p["personal_data"]
    out += [
        "",
        "### 3.2 Removal of illegal content",
        "",
        f"- Measures implemented to avoid or remove illegal content: {_v(p['illegal_content'])}",
        "",
        "### 3.3 Other information",
        "",
        "Personal data:",
        "",
        "- Personal data in the text was "
        + (
            "replaced by placeholders before training (counts per type below)."
            if pd["pii_step"]
            else "not scrubbed by the pipeline."
        ),
        f"- Erasure requests carried out on the corpora after preparation: {pd['erasure_requests']} "
        f"({_tokens(pd['erased_documents'])} documents removed).",
    ]
    if pd["replacements"]:
        out += [
            "",
            *_table(["type", "replacements"], [[k, _tokens(v)] for k, v in pd["replacements"].items()]),
        ]
    if p["other_information"]:
        out += ["", _v(p["other_information"])]
    out += [
        "",
        "## Regenerating this summary",
        "",
        f"Run `{regen['run']}` (config sha256 `{regen['run_config_sha256']}`), {regen['consumed_samples']:,} samples "
        f"consumed up to step {regen['last_step']}. Corpora (stats.json sha256, prep config sha256):",
        "",
        *_table(
            ["corpus", "stats.json", "prep config"],
            [
                [c["name"], f"`{c['stats_sha256'][:16]}`", f"`{(c['config_sha256'] or '-')[:16]}`"]
                for c in regen["corpora"]
            ],
        ),
        "",
        "`llm-train report ai-act RUN_DIR --info INFO.yaml --output DIR` on the same run and data gives the same "
        "summary (the JSON beside this file holds every figure).",
    ]
    if s["missing"]:
        out += ["", f"Fields to be completed by the provider: {', '.join(f'`{m}`' for m in s['missing'])}."]
    return "\n".join(out) + "\n"
