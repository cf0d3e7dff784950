"""Read `mixture.yaml` (the packed-data contract written by `llm-train pack`).

```yaml
version: 1
tokenizer: ../tokenizer          # directory with tokenizer.json, relative to this file
datasets:
  - {name: de, prefix: de_text_document, weight: 0.5, tokens: 123, documents: 4, lang: de, source: x}
```
Prefixes are relative to the mixture file and name `<prefix>.bin/.idx` pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from llm_train.errors import DataError


@dataclass(frozen=True)
class MixtureEntry:
    name: str
    prefix: str  # absolute, without .bin/.idx
    weight: float
    lang: str | None = None
    tokens: int | None = None


@dataclass(frozen=True)
class Mixture:
    path: Path
    entries: tuple[MixtureEntry, ...]
    tokenizer: str | None

    def blend(self) -> tuple[list[str], list[float]]:
        """(prefixes, weights) as megatron-core's `BlendedMegatronDatasetConfig.blend` wants them."""
        return [e.prefix for e in self.entries], [e.weight for e in self.entries]

    def by_lang(self) -> dict[str, list[MixtureEntry]]:
        out: dict[str, list[MixtureEntry]] = {}
        for e in self.entries:
            out.setdefault(e.lang or e.name, []).append(e)
        return out


def load_mixture(path: str | Path) -> Mixture:
    path = Path(path).resolve()
    if not path.is_file():
        raise DataError(f"data.mixture: {path} does not exist (run `llm-train pack` first)")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if raw.get("version", 1) != 1:
        raise DataError(f"{path}: unsupported mixture version {raw.get('version')!r} (expected 1)")
    datasets = raw.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        raise DataError(f"{path}: 'datasets' must be a non-empty list")
    entries = []
    for i, d in enumerate(datasets):
        if not isinstance(d, dict) or "prefix" not in d:
            raise DataError(f"{path}: datasets[{i}] needs a 'prefix'")
        prefix = (path.parent / d["prefix"]).resolve()
        for suffix in (".bin", ".idx"):
            if not prefix.with_name(prefix.name + suffix).is_file():
                raise DataError(f"{path}: datasets[{i}]: {prefix}{suffix} is missing")
        weight = float(d.get("weight", 1.0))
        if weight <= 0:
            raise DataError(f"{path}: datasets[{i}].weight must be > 0 (got {weight})")
        entries.append(
            MixtureEntry(str(d.get("name", prefix.name)), str(prefix), weight, d.get("lang"), d.get("tokens"))
        )
    tok = raw.get("tokenizer")
    tokenizer = str((path.parent / tok).resolve()) if tok else None
    return Mixture(path, tuple(entries), tokenizer)
