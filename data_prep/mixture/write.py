"""Resolve a mixture spec against a pack and write `mixture.yaml` (read by `llm_train.data.mixture`).

The weights are token shares for megatron-core's `blend`; see `data_prep.mixture.resolve`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from data_prep.mixture.resolve import resolve
from data_prep.mixture.spec import load_spec
from llm_train.data.mixture import MIXTURE_FILE, VERSION, Mixture, load_mixture
from llm_train.errors import DataError
from llm_train.utils.atomic import atomic_write_text


def _rel(path: str | Path, start: Path) -> str:
    return os.path.relpath(Path(path).resolve(), start.resolve())


def resolve_to_file(
    spec_path: str | Path,
    packed_dir: str | Path,
    budget_tokens: int | None = None,
    tokenizer: str | Path | None = None,
    out_path: str | Path | None = None,
) -> tuple[Path, Mixture]:
    """Resolve `spec_path` against `<packed_dir>/pack_stats.json`; write mixture.yaml, return it read back."""
    from data_prep.pack.packer import STATS_FILE

    spec = load_spec(spec_path)
    packed_dir = Path(packed_dir)
    stats_path = packed_dir / STATS_FILE
    if not stats_path.is_file():
        raise DataError(
            f"{packed_dir}: no {STATS_FILE}; run `llm-train pack --corpus ... --output {packed_dir}` first"
        )
    stats = json.loads(stats_path.read_text())
    budget = budget_tokens if budget_tokens is not None else spec.budget_tokens
    resolved, warnings = resolve(spec, stats, str(spec_path), budget)
    out = Path(out_path) if out_path else packed_dir / MIXTURE_FILE
    base = out.parent
    tok = tokenizer if tokenizer is not None else stats["tokenizer"]["path"]
    doc = {
        "version": VERSION,
        "name": spec.name,
        "spec": str(spec_path),
        "tokenizer": _rel(tok, base) if tok else None,
        "seq_length_hint": spec.seq_length_hint,
        "budget_tokens": budget,
        "method": spec.sampling.method,
        "alpha": spec.sampling.alpha if spec.sampling.method == "temperature" else None,
        "dtype": stats["dtype"],
        "datasets": [
            {
                "name": r.name,
                "prefix": _rel(packed_dir / stats["datasets"][r.name]["prefix"], base),
                "weight": r.weight,
                "tokens": r.tokens,
                "documents": r.documents,
                "lang": stats["datasets"][r.name]["lang"],
                "source": stats["datasets"][r.name]["source"],
                "contribution_tokens": r.contribution_tokens,
                "epochs": round(r.epochs, 4) if r.epochs is not None else None,
            }
            for r in resolved
        ],
        "warnings": warnings,
    }
    atomic_write_text(out, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return out, load_mixture(out)
