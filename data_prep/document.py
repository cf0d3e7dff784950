"""The Document record: what every prep step reads and writes, and what a clean corpus holds.

Contract: one JSON object per document with `id` (stable and unique: erasure and lineage address
documents by it), `text`, `lang` (ISO 639-1, set by language ID), `source`, `url` (optional) and
`meta` (a dict; `meta.input` is the raw file and line it came from). A clean corpus is
`<lang>/<split>/*.jsonl.zst` plus `stats.json` and `DATACARD.md`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Document:
    id: str
    text: str
    lang: str | None = None
    source: str | None = None
    url: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Document:
        return cls(
            id=obj["id"],
            text=obj["text"],
            lang=obj.get("lang"),
            source=obj.get("source"),
            url=obj.get("url"),
            meta=dict(obj.get("meta") or {}),
        )
