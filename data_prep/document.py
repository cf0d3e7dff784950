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


_SIZES: dict[int, tuple[str, int]] = {}
_MAX_SIZES = 1024


def utf8_size(text: str) -> int:
    """`len(text.encode("utf-8"))`, remembered for the texts seen last: every step counts the bytes
    of each document it takes in and lets out, mostly of the same unchanged text."""
    hit = _SIZES.get(id(text))
    if hit is not None and hit[0] is text:
        return hit[1]
    if len(_SIZES) >= _MAX_SIZES:
        del _SIZES[next(iter(_SIZES))]  # the oldest
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    _SIZES[id(text)] = (text, size)  # holding the text keeps its id from being reused
    return size
