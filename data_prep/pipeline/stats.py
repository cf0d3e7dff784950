"""Counters of a pipeline step: documents and bytes in/out, drop reasons, per language.

Stats of shards and ranks merge by addition, so per-shard files can be summed in any order.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any


class StepStats:
    def __init__(self, name: str):
        self.name = name
        self.counters: dict[str, float] = defaultdict(float)
        self.by_lang: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def update(self, key: str, value: float = 1, lang: str | None = None) -> None:
        self.counters[key] += value
        if lang is not None:
            self.by_lang[lang][key] += value

    def drop(self, reason: str, nbytes: int, lang: str | None = None) -> None:
        """One document removed for `reason`: totals and per-reason counts, documents and bytes."""
        self.update("docs_dropped", 1, lang)
        self.update("bytes_dropped", nbytes, lang)
        self.update(f"dropped.{reason}", 1, lang)
        self.update(f"dropped_bytes.{reason}", nbytes, lang)

    def __getitem__(self, key: str) -> float:
        return self.counters.get(key, 0)

    def merge(self, other: StepStats | dict[str, Any]) -> StepStats:
        data = other.to_json() if isinstance(other, StepStats) else other
        for key, value in data.get("counters", {}).items():
            self.counters[key] += value
        for lang, counters in data.get("by_lang", {}).items():
            for key, value in counters.items():
                self.by_lang[lang][key] += value
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "counters": dict(sorted(self.counters.items())),
            "by_lang": {lang: dict(sorted(c.items())) for lang, c in sorted(self.by_lang.items())},
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> StepStats:
        return cls(name).merge(data)
