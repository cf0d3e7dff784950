"""Opt-out removal: drop documents whose URL, domain or id is on a removal list.

The list is a text file, one entry per line (`#` comments and blank lines ignored):
    https://example.org/some/page     a URL (compared normalized: scheme, case of the host,
                                      "www.", default port, trailing slash and fragment ignored)
    domain:example.org                the domain and all its subdomains
    id:3f9a1c...                      a document id
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from data_prep.document import Document
from data_prep.pipeline.registry import STEPS
from data_prep.pipeline.step import BaseFilter, FilterResult
from llm_train.errors import ConfigError


def _host(netloc: str) -> str:
    host = netloc.rsplit("@", 1)[-1].lower()
    if host.endswith((":80", ":443")):
        host = host.rsplit(":", 1)[0]
    host = host.rstrip(".")
    return host[4:] if host.startswith("www.") else host


def normalize_url(url: str) -> str:
    """Scheme-less, lower-case host without www./default port, path without trailing slash, query kept."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/") or ""
    query = f"?{parts.query}" if parts.query else ""
    return f"{_host(parts.netloc)}{path}{query}"


@STEPS.register("optout")
class OptOutFilter(BaseFilter):
    name = "optout"

    def __init__(self, list_path: str | None = None, entries: list[str] | None = None):
        super().__init__()
        if list_path is None and entries is None:
            raise ConfigError("step 'optout': give list_path (a removal-list file) or entries")
        lines = list(entries or [])
        if list_path is not None:
            path = Path(list_path)
            if not path.is_file():
                raise ConfigError(f"step 'optout': list_path {str(path)!r} does not exist")
            lines += path.read_text(encoding="utf-8").splitlines()
        self.urls: set[str] = set()
        self.domains: set[str] = set()
        self.ids: set[str] = set()
        for n, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("domain:"):
                self.domains.add(_host(line[len("domain:") :].strip()))
            elif line.startswith("id:"):
                self.ids.add(line[len("id:") :].strip())
            elif line.startswith(("http://", "https://")):
                self.urls.add(normalize_url(line))
            else:
                raise ConfigError(
                    f"step 'optout': entry {n} {line!r} is not a URL (http[s]://...), domain:NAME or id:VALUE"
                )

    def _domain_listed(self, host: str) -> bool:
        # example.org matches example.org and a.b.example.org, never badexample.org
        while host:
            if host in self.domains:
                return True
            _, dot, host = host.partition(".")
            if not dot:
                return False
        return False

    def filter(self, doc: Document) -> FilterResult:
        if doc.id in self.ids:
            return False, "optout_id"
        if doc.url:
            if self.domains and self._domain_listed(_host(urlsplit(doc.url).netloc)):
                return False, "optout_domain"
            if self.urls and normalize_url(doc.url) in self.urls:
                return False, "optout_url"
        return True
