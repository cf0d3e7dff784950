"""The AI Act summary's Markdown is one pure function of the summary dict, checked against a
reviewed reference (LLM_TRAIN_UPDATE_SNAPSHOTS=1 rewrites it), and collect's rules on their own."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from llm_train.aiact.collect import size_range, top_domain_count
from llm_train.aiact.info import load_info, source_info
from llm_train.aiact.render import render_markdown
from llm_train.errors import ConfigError

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "ai_act"
UPDATE = os.environ.get("LLM_TRAIN_UPDATE_SNAPSHOTS") == "1"


def test_markdown_matches_the_reviewed_reference():
    summary = json.loads((SNAPSHOTS / "summary.json").read_text())
    text = render_markdown(summary)
    path = SNAPSHOTS / "summary.md"
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"no reference {path}; run with LLM_TRAIN_UPDATE_SNAPSHOTS=1 and review it")
        path.write_text(text)
    assert text == path.read_text(), "summary.md changed; review and update with LLM_TRAIN_UPDATE_SNAPSHOTS=1"


def test_render_is_pure_and_marks_what_is_missing():
    summary = json.loads((SNAPSHOTS / "summary.json").read_text())
    frozen = copy.deepcopy(summary)
    assert render_markdown(summary) == render_markdown(summary)
    assert summary == frozen
    text = render_markdown(summary)
    # Every template section, in order.
    order = [
        "## 1. General information",
        "### 1.1 Provider identification",
        "### 1.2 Model identification",
        "### 1.3 Modalities, overall training data size and other characteristics",
        "## 2. List of data sources",
        "### 2.1 Publicly available datasets",
        "#### 2.2.1 Datasets commercially licensed",
        "#### 2.2.2 Private datasets obtained from other third parties",
        "### 2.3 Data crawled and scraped from online sources",
        "### 2.4 User data",
        "### 2.5 Synthetic data",
        "### 2.6 Other sources of data",
        "## 3. Relevant data processing aspects",
        "### 3.1 Respect of reservation of rights",
        "### 3.2 Removal of illegal content",
        "### 3.3 Other information",
    ]
    positions = [text.index(h) for h in order]
    assert positions == sorted(positions)
    assert "Authorised representative name and contact details: *To be completed by the provider.*" in text
    assert "| example.de | 100,000,000,000 | 18.7% |" in text
    assert "licensed from Example Press \\| 2025" in text  # a pipe in a cell stays in its cell
    assert "- Other datasets of this category: tiny-glossary (1,000,000 tokens)" in text
    assert "Fields to be completed by the provider: `provider.authorised_representative`" in text


@pytest.mark.parametrize(
    "tokens, label",
    [
        (999_999_999, "Less than 1 billion tokens"),
        (10**9, "1 billion to 10 trillion tokens"),
        (10**13, "More than 10 trillion tokens"),
    ],
)
def test_size_ranges_follow_the_template(tokens, label):
    assert size_range(tokens) == label


def test_top_domains_rule():
    assert top_domain_count(25, sme=False) == 3  # top 10%, rounded up
    assert top_domain_count(25, sme=True) == 2  # SMEs: 5%
    assert top_domain_count(100_000, sme=True) == 1000  # at most 1000 for SMEs
    assert top_domain_count(100_000, sme=False) == 10_000
    assert top_domain_count(0, sme=False) == 0


def test_info_file_errors_name_the_key(tmp_path):
    bad = tmp_path / "info.yaml"
    bad.write_text("provider: {name: X}\nsourcez: {}\nsources: {a: {category: stolen}}\n")
    with pytest.raises(ConfigError) as err:
        load_info(bad)
    assert "sourcez: unknown key" in str(err.value)
    assert "sources.a.category: expected one of public, licensed" in str(err.value)
    with pytest.raises(ConfigError, match="does not exist"):
        load_info(tmp_path / "missing.yaml")
    info = {"sources": {"wiki-de": {"category": "public"}, "manpages-*": {"category": "licensed"}}}
    assert source_info(info, "wiki-de")["category"] == "public"
    assert source_info(info, "manpages-fr")["category"] == "licensed"
    assert source_info(info, "other") == {}
