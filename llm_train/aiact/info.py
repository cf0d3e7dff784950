"""What only the provider can say in the training-content summary: `llm-train report ai-act --info FILE.yaml`.

    provider:
      name: Example Consortium             # legal name
      contact: ai-office@example.org
      authorised_representative: not applicable (established in the EU)
      sme: false                           # SMEs list the top 5% of crawled domains (at most 1000)
    model:
      name: example-7b                     # or --model-name
      versions: [example-7b-base-v1]
      dependencies: none                   # the general-purpose model this one modifies, if any
      content_types: technical documentation, manual pages
      data_collection_end: 2025-06-30      # when there is no crawl date to take it from
      placed_on_market: 2026-03-01
      continuous_training: false
    sources:                               # per `source` of the corpora, or a glob pattern (`manpages-*`)
      wikipedia-de: {category: public, description: German Wikipedia dump 2025-05, url: ..., licence: CC BY-SA 4.0}
      newsroom-archive: {category: licensed, description: articles licensed from ...}
      crawl-2025: {category: crawled}
    crawling:
      crawlers: [{name: ExampleBot, purpose: collecting training text, behaviour: honours robots.txt and TDMRep}]
      description: public web pages in EU languages; no paywalls, no login
    user_data: {used: false}
    synthetic_data: {used: false}
    other_data: {used: false}
    code_of_practice_signatory: true
    illegal_content: measures taken before training to remove illegal content (CSAM, terrorist content, ...)
    other_information: ...

Categories: public (publicly available datasets), licensed (commercially licensed by rightsholders),
private (other non-public datasets obtained from third parties), crawled (crawled/scraped by the
provider), user (user data), synthetic, other. A source that comes from WARC pages is `crawled`
unless the file says otherwise. Anything not given is "to be completed by the provider"; with
`--strict` each such field is an error naming it.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import yaml

from llm_train.errors import ConfigError, ConfigProblem

TODO = "to be completed by the provider"
CATEGORIES = {
    "public": "Publicly available datasets",
    "licensed": "Datasets commercially licensed by rightsholders or their representatives",
    "private": "Private datasets obtained from other third parties",
    "crawled": "Data crawled and scraped from online sources",
    "user": "User data",
    "synthetic": "Synthetic data",
    "other": "Other sources of data",
}
TOP_KEYS = {
    "provider",
    "model",
    "sources",
    "crawling",
    "user_data",
    "synthetic_data",
    "other_data",
    "code_of_practice_signatory",
    "illegal_content",
    "other_information",
}


def load_info(path: str | Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise ConfigError([ConfigProblem(str(path), None, "the --info file does not exist")])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(str(path), None, f"not valid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(str(path), None, "expected a mapping at the top")])
    problems = [
        ConfigProblem(str(path), key, f"unknown key; valid keys: {', '.join(sorted(TOP_KEYS))}")
        for key in data
        if key not in TOP_KEYS
    ]
    for name, entry in (data.get("sources") or {}).items():
        category = (entry or {}).get("category") if isinstance(entry, dict) else None
        if category is not None and category not in CATEGORIES:
            problems.append(
                ConfigProblem(
                    str(path),
                    f"sources.{name}.category",
                    f"expected one of {', '.join(CATEGORIES)}",
                    category,
                )
            )
    if problems:
        raise ConfigError(problems)
    return data


def source_info(info: dict[str, Any], source: str) -> dict[str, Any]:
    """The --info entry of a source: its own name, else the first glob pattern that matches it
    (`manpages-*: {category: public}`)."""
    given = info.get("sources") or {}
    if isinstance(given.get(source), dict):
        return given[source]
    for pattern, entry in given.items():
        if isinstance(entry, dict) and fnmatch.fnmatchcase(source, pattern):
            return entry
    return {}


def get(info: dict[str, Any], dotted: str) -> Any:
    """The value at `a.b.c`, or None."""
    node: Any = info
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
