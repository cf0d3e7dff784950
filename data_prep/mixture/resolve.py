"""Resolve a mixture spec against `pack_stats.json` into final weights and token contributions.

Bounded weights by water-filling: w_i = clip(c * r_i, lo_i, hi_i), with the scale c found by
bisection so the weights sum to 1 (sum w is monotone in c). r_i is the explicit weight or
tokens_i ** alpha; lo_i the floor; hi_i the cap, tightened to max_epochs * tokens_i / budget
when a repetition limit and a budget are given. Infeasible bounds fail with the numbers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from data_prep.mixture.spec import MixtureSpec
from llm_train.errors import ConfigError, ConfigProblem

logger = logging.getLogger(__name__)


@dataclass
class Resolved:
    name: str
    weight: float
    tokens: int
    documents: int
    contribution_tokens: int | None
    epochs: float | None


def water_fill(raw: list[float], lo: list[float], hi: list[float]) -> list[float]:
    if sum(lo) > 1.0 + 1e-12:
        raise ValueError(f"floors sum to {sum(lo):.4f} > 1")
    if sum(hi) < 1.0 - 1e-12:
        raise ValueError(f"caps sum to {sum(hi):.4f} < 1")

    def weights(c: float) -> list[float]:
        return [min(max(c * r, a), b) for r, a, b in zip(raw, lo, hi, strict=True)]

    low, high = 0.0, 1.0
    while sum(weights(high)) < 1.0 and high < 1e300:
        high *= 2.0
    for _ in range(200):
        mid = (low + high) / 2
        if sum(weights(mid)) < 1.0:
            low = mid
        else:
            high = mid
    w = weights(high)
    total = sum(w)
    return [x / total for x in w]


def resolve(
    spec: MixtureSpec, stats: dict, spec_file: str, budget_tokens: int | None
) -> tuple[list[Resolved], list[str]]:
    """Final weights for the datasets of `spec` found in `stats`; returns (datasets, warnings)."""
    packed = stats["datasets"]
    warnings: list[str] = []
    chosen = [(d.name, d) for d in spec.datasets] or [(name, None) for name in packed]
    usable = []
    for name, dspec in chosen:
        if name not in packed or packed[name]["tokens"] == 0:
            if name in packed:
                message = f"dataset {name!r} has no tokens"
            else:
                message = f"dataset {name!r} is not in the pack (has {sorted(packed)})"
            if spec.on_missing == "error" or (dspec is not None and dspec.required):
                raise ConfigError([ConfigProblem(spec_file, f"datasets.{name}", message)])
            warnings.append(f"{message}: left out")
            continue
        usable.append((name, dspec))
    if not usable:
        raise ConfigError([ConfigProblem(spec_file, "datasets", "no dataset of the mixture is in the pack")])

    s = spec.sampling
    raw, lo, hi = [], [], []
    for name, d in usable:
        tokens = packed[name]["tokens"]
        raw.append(d.weight if s.method == "explicit" else float(tokens) ** s.alpha)
        floor = d.min_weight if d and d.min_weight is not None else s.min_weight
        cap = d.max_weight if d and d.max_weight is not None else s.max_weight
        max_epochs = d.max_epochs if d and d.max_epochs is not None else s.max_epochs
        if max_epochs is not None and budget_tokens:
            epoch_cap = max_epochs * tokens / budget_tokens
            if epoch_cap < floor:
                warnings.append(
                    f"{name}: floor {floor} needs more than {max_epochs} epochs; the epoch limit wins"
                )
                floor = epoch_cap
            cap = min(cap, epoch_cap)
        lo.append(floor)
        hi.append(cap)
    if sum(raw) <= 0:
        raise ConfigError([ConfigProblem(spec_file, "datasets", "all weights are zero")])
    try:
        weights = water_fill(raw, lo, hi)
    except ValueError as exc:
        capacity = ""
        if s.max_epochs is not None and budget_tokens:
            total = sum(packed[n]["tokens"] for n, _ in usable)
            capacity = f" (the pack holds {total} tokens; {s.max_epochs} epochs cannot fill a {budget_tokens}-token budget)"
        raise ConfigError(
            [ConfigProblem(spec_file, "sampling", f"weights cannot satisfy the bounds: {exc}{capacity}")]
        ) from None

    out = []
    for (name, _), weight in zip(usable, weights, strict=True):
        tokens = packed[name]["tokens"]
        contribution = round(weight * budget_tokens) if budget_tokens else None
        epochs = contribution / tokens if contribution is not None else None
        if epochs is not None and epochs > s.warn_epochs:
            warnings.append(
                f"{name}: {epochs:.2f} epochs over the budget (more than warn_epochs={s.warn_epochs})"
            )
        out.append(Resolved(name, weight, tokens, packed[name]["documents"], contribution, epochs))
    for message in warnings:
        logger.warning("mixture %s: %s", spec.name, message)
    return out, warnings
