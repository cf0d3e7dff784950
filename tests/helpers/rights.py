"""A small real data flow for the data-rights tests: raw JSONL with planted documents -> `llm-train
prep` -> `llm-train tokenizer` -> `llm-train pack` (with document maps) -> mixture.yaml, and a tiny
DeepSpeed CPU training run on it (tests/helpers/tiny_packed.py's experiment).

Planted documents carry text that appears nowhere else (a name, an e-mail address, a private url),
so a test can check that erasure leaves no trace of it in the corpus and the packed data.
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
from pathlib import Path

import yaml

from tests.helpers.tiny_packed import WORDS, _sentences, train_cmd, train_env, write_experiment

PLANTED = {
    "planted-de-1": ("de", "Jane Doe wohnt in der Beispielstraße 12 und schreibt an jane.doe@example.org."),
    "planted-fr-1": ("fr", "Jean Dupont habite rue de l'Exemple et écrit à jean.dupont@example.net."),
}
PLANTED_URL = "https://private.example/jane-doe"
VOCAB = 512


def write_raw(root: Path, docs_per_lang: int = 120, seed: int = 3) -> Path:
    """Two languages of synthetic documents, with the planted ones among them; returns the input glob."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for lang in WORDS:
        docs = []
        for i, text in enumerate(_sentences(lang, docs_per_lang, rng)):
            body = " ".join([text, *_sentences(lang, 3, rng)])
            docs.append(
                {
                    "id": f"{lang}-{i}",
                    "text": body,
                    "lang": lang,
                    "source": f"synthetic-{lang}",
                    "url": f"https://www.example.{lang}/doc/{i}",
                }
            )
        for doc_id, (plang, text) in PLANTED.items():
            if plang == lang:
                filler = " ".join(_sentences(lang, 4, rng))
                url = PLANTED_URL if lang == "de" else None
                # Early in the file: the tiny run's few steps read the first documents of the blend often.
                docs.insert(
                    3,
                    {"id": doc_id, "text": f"{text} {filler}", "lang": lang, "source": "letters", "url": url},
                )
        with gzip.open(root / f"{lang}.jsonl.gz", "wt", encoding="utf-8") as fh:
            for doc in docs:
                fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return root / "*.jsonl.gz"


PREP_CONFIG = {
    "name": "rights-test",
    "steps": {"tdm": {}},
    "dedup": {"exact": True, "near": False},
    "output": {"validation_fraction": 0.05, "charts": False},
}


def build_data(tmp: Path) -> dict[str, Path]:
    """prep -> tokenizer -> pack; returns the paths."""
    from data_prep.cli.pack import main as pack_main
    from data_prep.cli.prep import main as prep_main
    from data_prep.cli.tokenizer import main as tokenizer_main

    raw = write_raw(tmp / "raw")
    config = tmp / "prep.yaml"
    config.write_text(yaml.safe_dump(PREP_CONFIG))
    clean, tok, packed = tmp / "clean", tmp / "tokenizer", tmp / "packed"
    assert (
        prep_main(["--input", str(raw), "--output", str(clean), "--config", str(config), "--no-progress"])
        == 0
    )
    assert tokenizer_main(["--corpus", str(clean), "--output", str(tok), "--vocab-size", str(VOCAB)]) == 0
    assert (
        pack_main(
            ["--corpus", str(clean), "--tokenizer", str(tok), "--output", str(packed), "--workers", "1"]
        )
        == 0
    )
    stats = json.loads((packed / "pack_stats.json").read_text())
    mixture = packed / "mixture.yaml"
    mixture.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "name": "rights",
                "tokenizer": "../tokenizer",
                "datasets": [
                    {
                        "name": n,
                        "prefix": d["prefix"],
                        "weight": 0.5,
                        "tokens": d["tokens"],
                        "documents": d["documents"],
                        "lang": d["lang"],
                        "source": None,
                    }
                    for n, d in stats["datasets"].items()
                ],
            }
        )
    )
    return {"raw": raw, "clean": clean, "tokenizer": tok, "packed": packed, "mixture": mixture}


def train_tiny(tmp: Path, mixture: Path, run_id: str = "r", steps: int = 6, every: int = 3) -> Path:
    """A tiny DeepSpeed CPU run (1 process); returns its run dir."""
    config = write_experiment(
        tmp,
        mixture,
        model={"vocab_size": VOCAB},
        train={"steps": steps, "log_every": 1},
        checkpoint={"every_steps": every, "keep_last": 5},
    )
    proc = subprocess.run(
        train_cmd(config, "--nproc", "1", "--run-id", run_id),
        env=train_env(LLM_TRAIN_RUNS=str(tmp / "runs")),
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tmp / "runs" / "t" / run_id


def corpus_lines(corpus: Path) -> list[dict]:
    """Every document of every .jsonl.zst the corpus keeps (clean, audit trail, intermediates)."""
    import zstandard

    out = []
    for path in sorted(corpus.rglob("*.jsonl.zst")):
        data = zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read().decode("utf-8")
        out += [json.loads(line) for line in data.splitlines() if line.strip()]
    return out
