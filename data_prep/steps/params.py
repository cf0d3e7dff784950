"""Step parameters from YAML: a frozen dataclass per step, validated at construction,
with optional per-language overrides (`per_lang: {de: {min_doc_words: 40}}`).

Bad values fail when the pipeline is built, never in the middle of a shard.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Generic, TypeVar

from llm_train.errors import ConfigError

P = TypeVar("P")


def check(cond: bool, step: str, key: str, expected: str, value: Any) -> None:
    if not cond:
        raise ConfigError(f"step {step!r}: {key} must be {expected} (got {value!r})")


def build_params(cls: type[P], step: str, values: dict[str, Any], where: str = "") -> P:
    """Instantiate `cls` from `values`, naming unknown keys and the valid ones."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"step {step!r}{where}: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}"
        )
    params = cls(**values)
    validate = getattr(params, "validate", None)
    if validate is not None:
        validate(step)
    return params


class PerLang(Generic[P]):
    """Default parameters plus per-language overrides; `get(lang)` is one dict lookup."""

    def __init__(self, cls: type[P], step: str, values: dict[str, Any], per_lang: dict | None):
        self.default: P = build_params(cls, step, values)
        self.by_lang: dict[str, P] = {}
        if per_lang is None:
            return
        if not isinstance(per_lang, dict):
            raise ConfigError(
                f"step {step!r}: per_lang must be a mapping lang -> parameters (got {per_lang!r})"
            )
        for lang, overrides in per_lang.items():
            if not isinstance(overrides, dict):
                raise ConfigError(f"step {step!r}: per_lang.{lang} must be a mapping (got {overrides!r})")
            merged = {**dataclasses.asdict(self.default), **overrides}
            self.by_lang[lang] = build_params(cls, step, merged, where=f" per_lang.{lang}")

    def get(self, lang: str | None) -> P:
        return self.by_lang.get(lang, self.default) if lang else self.default
