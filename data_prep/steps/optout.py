"""Opt-out removal: drop documents whose URL, domain or id is on a removal list.

The list is a text file, one entry per line (`#` comments and blank lines ignored):
    https://example.org/some/page     a URL (compared normalized: scheme, case of the host,
                                      "www.", default port, trailing slash and fragment ignored)
    domain:example.org                the domain and all its subdomains
    id:3f9a1c...                      a document id
"""

from __future__ import annotations

from pathlib import Path

from data_prep.document import Document
from data_prep.pipeline.registry import STEPS
from data_prep.pipeline.step import BaseFilter, FilterResult
from llm_train.errors import ConfigError
from llm_train.utils.urls import domain_matches, host_of, normalize_url, url_host

__all__ = ["OptOutFilter", "normalize_url"]


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
                self.domains.add(host_of(line[len("domain:") :].strip()))
            elif line.startswith("id:"):
                self.ids.add(line[len("id:") :].strip())
            elif line.startswith(("http://", "https://")):
                self.urls.add(normalize_url(line))
            else:
                raise ConfigError(
                    f"step 'optout': entry {n} {line!r} is not a URL (http[s]://...), domain:NAME or id:VALUE"
                )

    def filter(self, doc: Document) -> FilterResult:
        if doc.id in self.ids:
            return False, "optout_id"
        if doc.url:
            if self.domains and domain_matches(url_host(doc.url), self.domains):
                return False, "optout_domain"
            if self.urls and normalize_url(doc.url) in self.urls:
                return False, "optout_url"
        return True
