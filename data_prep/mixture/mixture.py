"""`mixture.yaml`, the contract between `pack` and the trainer, and its reader.

    version: 1
    name: demo
    tokenizer: ../tokenizer          # relative to this file
    seq_length_hint: null
    budget_tokens: 100000000         # or null
    datasets:
      - {name: de, prefix: de_text_document, weight: 0.21, tokens: 123, documents: 4, lang: de,
         source: null, contribution_tokens: 21000000, epochs: 1.3}
    warnings: [...]

`load_mixture(path).blend()` gives megatron-core's `blend` ([[absolute prefixes], [weights]]),
what `BlendedMegatronDatasetConfig(blend=...)` takes. Megatron draws whole samples of
`seq_length` tokens from each dataset in proportion to the weights, so weights are token shares.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from data_prep.mixture.resolve import resolve
from data_prep.mixture.spec import load_spec
from llm_train.errors import ConfigError, ConfigProblem, DataError
from llm_train.utils.atomic import atomic_write_text

VERSION = 1
MIXTURE_FILE = "mixture.yaml"


@dataclass
class MixtureDataset:
    name: str
    prefix: str  # absolute path, without .bin/.idx
    weight: float
    tokens: int
    documents: int
    lang: str | None
    source: str | None
    contribution_tokens: int | None
    epochs: float | None


@dataclass
class Mixture:
    path: Path
    name: str
    tokenizer: str | None  # absolute path
    seq_length_hint: int | None
    budget_tokens: int | None
    datasets: list[MixtureDataset]
    warnings: list[str]

    def blend(self) -> list:
        """megatron-core blend: [[prefix, ...], [weight, ...]] with absolute prefixes."""
        return [[d.prefix for d in self.datasets], [d.weight for d in self.datasets]]

    def blend_flat(self) -> list[str]:
        """The flat form of Megatron-LM's --data-path: ["w1", "prefix1", "w2", "prefix2", ...]."""
        return [item for d in self.datasets for item in (repr(d.weight), d.prefix)]

    def render_table(self) -> str:
        lines = [f"{'dataset':<16} {'weight':>8} {'tokens':>14} {'docs':>10} {'contrib':>14} {'epochs':>7}"]
        for d in self.datasets:
            contrib = f"{d.contribution_tokens}" if d.contribution_tokens is not None else "-"
            epochs = f"{d.epochs:.2f}" if d.epochs is not None else "-"
            lines.append(
                f"{d.name:<16} {d.weight:>8.4f} {d.tokens:>14} {d.documents:>10} {contrib:>14} {epochs:>7}"
            )
        return "\n".join(lines)


def _rel(path: str | Path, start: Path) -> str:
    return os.path.relpath(Path(path).resolve(), start.resolve())


def resolve_to_file(
    spec_path: str | Path,
    packed_dir: str | Path,
    budget_tokens: int | None = None,
    tokenizer: str | Path | None = None,
    out_path: str | Path | None = None,
) -> tuple[Path, Mixture]:
    """Resolve `spec_path` against `<packed_dir>/pack_stats.json`; write and return mixture.yaml."""
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


def load_mixture(path: str | Path, check_files: bool = True) -> Mixture:
    """Read mixture.yaml; prefixes and tokenizer become absolute; missing .bin/.idx fail here."""
    from llm_train.config.compose import read_yaml

    path = Path(path)
    data = read_yaml(path)
    where = str(path)
    if data.get("version") != VERSION:
        raise ConfigError([ConfigProblem(where, "version", f"expected {VERSION}", data.get("version"))])
    base = path.parent.resolve()
    datasets = []
    for i, item in enumerate(data.get("datasets") or []):
        try:
            ds = MixtureDataset(**{k: item.get(k) for k in MixtureDataset.__dataclass_fields__})
        except (TypeError, AttributeError):
            raise ConfigError([ConfigProblem(where, f"datasets.{i}", "expected a mapping", item)]) from None
        if not isinstance(ds.prefix, str) or not isinstance(ds.weight, int | float) or ds.weight < 0:
            raise ConfigError(
                [ConfigProblem(where, f"datasets.{i}", "needs a prefix and a weight >= 0", item)]
            )
        ds.prefix = str((base / ds.prefix).resolve())
        if check_files:
            for ext in (".bin", ".idx"):
                if not Path(ds.prefix + ext).is_file():
                    raise DataError(f"{where}: datasets.{i} ({ds.name}): missing {ds.prefix}{ext}")
        datasets.append(ds)
    if not datasets:
        raise ConfigError([ConfigProblem(where, "datasets", "no datasets")])
    tok = data.get("tokenizer")
    return Mixture(
        path=path,
        name=str(data.get("name", path.stem)),
        tokenizer=str((base / tok).resolve()) if tok else None,
        seq_length_hint=data.get("seq_length_hint"),
        budget_tokens=data.get("budget_tokens"),
        datasets=datasets,
        warnings=list(data.get("warnings") or []),
    )


def mixture_as_dict(mixture: Mixture) -> dict:
    return {**asdict(mixture), "path": str(mixture.path)}
