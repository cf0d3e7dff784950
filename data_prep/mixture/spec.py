"""The mixture spec (`configs/data/mixtures/*.yaml`): which packed datasets, how to weigh them.

Either explicit weights (normalized) or temperature sampling over token counts: w_i is
proportional to tokens_i ** alpha (alpha 1: as packed; alpha -> 0: uniform). Floors and caps
(`min_weight`, `max_weight`) and a repetition limit (`max_epochs`, which needs a token budget)
bound each weight; the remainder is redistributed over the others. `warn_epochs` only warns.
Per-dataset values override the `sampling` defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, ValidationError, model_validator

from llm_train.config.base import Section
from llm_train.config.compose import read_yaml
from llm_train.errors import ConfigError, ConfigProblem


class SamplingSpec(Section):
    method: Literal["temperature", "explicit"] = "temperature"
    alpha: float = Field(0.3, gt=0.0, le=1.0)
    min_weight: float = Field(0.0, ge=0.0, le=1.0)
    max_weight: float = Field(1.0, gt=0.0, le=1.0)
    max_epochs: PositiveFloat | None = None
    warn_epochs: PositiveFloat = 4.0


class DatasetSpec(Section):
    name: str = Field(min_length=1)
    weight: float | None = Field(None, ge=0.0)
    min_weight: float | None = Field(None, ge=0.0, le=1.0)
    max_weight: float | None = Field(None, gt=0.0, le=1.0)
    max_epochs: PositiveFloat | None = None
    # A required dataset missing from the pack is an error even when on_missing is "warn".
    required: bool = False


class MixtureSpec(Section):
    name: str = Field(min_length=1)
    description: str | None = None
    budget_tokens: PositiveInt | None = None
    seq_length_hint: PositiveInt | None = None
    on_missing: Literal["warn", "error"] = "warn"
    sampling: SamplingSpec = SamplingSpec()
    # Empty: every dataset of the pack.
    datasets: list[DatasetSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _explicit_needs_weights(self) -> MixtureSpec:
        if self.sampling.method == "explicit":
            missing = [d.name for d in self.datasets if d.weight is None]
            if not self.datasets or missing:
                raise ValueError(
                    f"sampling.method 'explicit' needs a weight on every dataset (missing: {missing})"
                )
        names = [d.name for d in self.datasets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"dataset names must be unique (repeated: {dupes})")
        return self


def load_spec(path: str | Path) -> MixtureSpec:
    path = Path(path)
    data = read_yaml(path)
    try:
        return MixtureSpec.model_validate(data)
    except ValidationError as exc:
        problems = [
            ConfigProblem(
                str(path), ".".join(str(p) for p in err["loc"]) or None, err["msg"], err.get("input", ...)
            )
            for err in exc.errors()
        ]
        raise ConfigError(problems) from None
