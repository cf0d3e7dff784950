"""What an erasure request selects, and how it is recorded without the personal data in it.

Selectors (any combination; a document matching one of them is erased):
    ids       document ids
    urls      urls, compared normalized (llm_train/utils/urls.py)
    domains   domains and their subdomains
    match     regular expressions searched in the document text (Python `re` syntax)

The erasure log keeps, per selector, how many values were given and the sha256 of each value: a
requester's own request can be checked against the log, the log itself names no one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from llm_train.errors import ConfigError
from llm_train.utils.urls import domain_matches, host_of, normalize_url, url_host

SELECTORS = ("ids", "urls", "domains", "match")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class ErasureRequest:
    ids: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    match: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ids = sorted({i.strip() for i in self.ids if i.strip()})
        self.urls = sorted({normalize_url(u) for u in self.urls if u.strip()})
        self.domains = sorted({host_of(d.strip().removeprefix("domain:")) for d in self.domains if d.strip()})
        self.match = sorted(set(self.match))
        self._patterns = []
        for pattern in self.match:
            try:
                self._patterns.append(re.compile(pattern))
            except re.error as exc:
                raise ConfigError(f"--match {pattern!r}: not a regular expression ({exc})") from None
        self._ids, self._urls, self._domains = set(self.ids), set(self.urls), frozenset(self.domains)

    @property
    def empty(self) -> bool:
        return not any(getattr(self, s) for s in SELECTORS)

    @property
    def selectors(self) -> list[str]:
        return [s for s in SELECTORS if getattr(self, s)]

    @property
    def sha256(self) -> str:
        """The request's identity: the same selection always has the same hash."""
        return sha256(json.dumps({s: getattr(self, s) for s in SELECTORS}, sort_keys=True))

    def hashed(self) -> dict:
        """What the erasure log records about the request: counts and per-value hashes only."""
        return {
            s: {"count": len(v), "sha256": [sha256(x) for x in v]}
            for s in SELECTORS
            if (v := getattr(self, s))
        }

    def matches(self, doc: dict) -> bool:
        """Does a clean-corpus record (a parsed JSON line) fall under the request?"""
        if self._ids and str(doc.get("id")) in self._ids:
            return True
        url = doc.get("url")
        if isinstance(url, str) and url:
            if self._urls and normalize_url(url) in self._urls:
                return True
            if self._domains and domain_matches(url_host(url), self._domains):
                return True
        text = doc.get("text")
        return bool(self._patterns and isinstance(text, str) and any(p.search(text) for p in self._patterns))
