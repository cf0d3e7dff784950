"""`mixture.yaml`, the packed-data contract between `llm-train pack --mixture` and the trainer.

This is its only reader: `data_prep.mixture` writes the file and reads it back through here, the
trainer turns it into megatron-core's `blend`.

    version: 1
    name: demo
    tokenizer: ../tokenizer          # directory with tokenizer.json, relative to this file
    seq_length_hint: null
    budget_tokens: 100000000         # or null
    datasets:
      - {name: de, prefix: de_text_document, weight: 0.21, tokens: 123, documents: 4, lang: de,
         source: null, contribution_tokens: 21000000, epochs: 1.3}
    warnings: [...]

Prefixes are relative to the file and name `<prefix>.bin/.idx` pairs. Only `datasets[].prefix` is
required; a hand-written file may leave out `version` (1), `weight` (1.0) and `name` (the prefix's
file name). Megatron draws whole samples from each dataset in proportion to the weights, so weights
are token shares; a weight of 0 keeps a dataset listed but never sampled.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from llm_train.config.compose import read_yaml
from llm_train.errors import ConfigError, ConfigProblem, DataError

VERSION = 1
MIXTURE_FILE = "mixture.yaml"


@dataclass
class MixtureDataset:
    name: str
    prefix: str  # absolute, without .bin/.idx
    weight: float
    tokens: int | None = None
    documents: int | None = None
    lang: str | None = None
    source: str | None = None
    contribution_tokens: int | None = None
    epochs: float | None = None


@dataclass
class Mixture:
    path: Path
    name: str
    tokenizer: str | None  # absolute directory, or None when the file names none
    datasets: list[MixtureDataset]
    seq_length_hint: int | None = None
    budget_tokens: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def sampled(self) -> list[MixtureDataset]:
        # megatron-core's BlendedDataset asserts every weight > 0.
        return [d for d in self.datasets if d.weight > 0]

    def blend(self) -> tuple[list[str], list[float]]:
        """(prefixes, weights) as megatron-core's `BlendedMegatronDatasetConfig.blend` wants them."""
        return [d.prefix for d in self.sampled], [d.weight for d in self.sampled]

    def blend_flat(self) -> list[str]:
        """The flat form of Megatron-LM's --data-path: ["w1", "prefix1", "w2", "prefix2", ...]."""
        return [item for d in self.sampled for item in (repr(d.weight), d.prefix)]

    def render_table(self) -> str:
        lines = [f"{'dataset':<16} {'weight':>8} {'tokens':>14} {'docs':>10} {'contrib':>14} {'epochs':>7}"]
        for d in self.datasets:
            contrib = f"{d.contribution_tokens}" if d.contribution_tokens is not None else "-"
            epochs = f"{d.epochs:.2f}" if d.epochs is not None else "-"
            lines.append(
                f"{d.name:<16} {d.weight:>8.4f} {_or_dash(d.tokens):>14} {_or_dash(d.documents):>10} "
                f"{contrib:>14} {epochs:>7}"
            )
        return "\n".join(lines)


def _or_dash(value: object) -> str:
    return "-" if value is None else str(value)


_OPTIONAL = [f.name for f in fields(MixtureDataset) if f.name not in ("name", "prefix", "weight")]


def _dataset(item: object, i: int, where: str, base: Path) -> MixtureDataset:
    def problem(message: str) -> ConfigError:
        return ConfigError([ConfigProblem(where, f"datasets.{i}", message, item)])

    if not isinstance(item, dict) or not isinstance(item.get("prefix"), str) or not item["prefix"]:
        raise problem("expected a mapping with a 'prefix' (a path without .bin/.idx)")
    weight = item.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
        raise problem("expected 'weight' to be a number >= 0")
    prefix = (base / item["prefix"]).resolve()
    return MixtureDataset(
        name=str(item.get("name") or prefix.name),
        prefix=str(prefix),
        weight=float(weight),
        **{k: item.get(k) for k in _OPTIONAL},
    )


def load_mixture(path: str | Path, check_files: bool = True) -> Mixture:
    """Read mixture.yaml; prefixes and tokenizer become absolute; missing .bin/.idx fail here."""
    path = Path(path).resolve()
    if not path.is_file():
        raise DataError(f"data.mixture: {path} does not exist (run `llm-train pack --mixture` first)")
    data = read_yaml(path)
    where = str(path)
    if data.get("version", VERSION) != VERSION:
        raise ConfigError([ConfigProblem(where, "version", f"expected {VERSION}", data.get("version"))])
    items = data.get("datasets")
    if not isinstance(items, list) or not items:
        raise ConfigError([ConfigProblem(where, "datasets", "expected a non-empty list", items)])
    base = path.parent
    datasets = [_dataset(item, i, where, base) for i, item in enumerate(items)]
    if check_files:
        for i, d in enumerate(datasets):
            for ext in (".bin", ".idx"):
                if not Path(d.prefix + ext).is_file():
                    raise DataError(f"{where}: datasets.{i} ({d.name}): missing {d.prefix}{ext}")
    if not any(d.weight > 0 for d in datasets):
        raise ConfigError([ConfigProblem(where, "datasets", "expected at least one weight > 0")])
    tok = data.get("tokenizer")
    return Mixture(
        path=path,
        name=str(data.get("name") or path.stem),
        tokenizer=str((base / tok).resolve()) if tok else None,
        datasets=datasets,
        seq_length_hint=data.get("seq_length_hint"),
        budget_tokens=data.get("budget_tokens"),
        warnings=list(data.get("warnings") or []),
    )
