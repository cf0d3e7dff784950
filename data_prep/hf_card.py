"""README.md of a clean corpus: the dataset card that makes it a HuggingFace dataset, offline.

    import datasets
    ds = datasets.load_dataset("work/clean", name="de", split="train")

One config per language, its splits pointing at `<lang>/<split>/*.jsonl.zst`. The features are
declared so that `meta`, whose keys differ between sources (a WARC page has `http_headers`, a
parquet row does not), loads as one JSON column instead of failing schema inference. The card is a
pure function of the languages and splits on disk, so a resumed prep writes the same bytes.
DATACARD.md stays the human-readable account of what went in and what was taken out.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from data_prep.readers.corpus import SPLITS
from llm_train.utils.atomic import atomic_write_text

CARD = "README.md"
FEATURES = [
    {"name": "id", "dtype": "string"},
    {"name": "text", "dtype": "string"},
    {"name": "lang", "dtype": "string"},
    {"name": "source", "dtype": "string"},
    {"name": "url", "dtype": "string"},
    {"name": "meta", "dtype": "json"},
]


def card_header(corpus: Path) -> dict:
    configs = []
    for lang_dir in sorted(p for p in corpus.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = [
            {"split": split, "path": f"{lang_dir.name}/{split}/*.jsonl.zst"}
            for split in SPLITS
            if any((lang_dir / split).glob("*.jsonl.zst"))
        ]
        if files:
            configs.append({"config_name": lang_dir.name, "data_files": files, "features": FEATURES})
    return {"configs": configs}


def render_card(corpus: Path) -> str:
    header = card_header(corpus)
    names = [c["config_name"] for c in header["configs"]]
    example = names[0] if names else "<lang>"
    body = [
        "# Clean corpus",
        "",
        "Written by `llm-train prep`: one config per language, splits `train` and `validation`.",
        "What went in and what was taken out is in DATACARD.md and stats.json.",
        "",
        "```python",
        "import datasets",
        f'ds = datasets.load_dataset("path/to/this/corpus", name="{example}", split="train")',
        "```",
        "",
        f"Languages: {', '.join(names) or 'none'}.",
        "",
    ]
    return "---\n" + yaml.safe_dump(header, sort_keys=False) + "---\n\n" + "\n".join(body)


def write_hf_card(corpus: str | Path) -> Path:
    path = Path(corpus) / CARD
    atomic_write_text(path, render_card(Path(corpus)))
    return path
