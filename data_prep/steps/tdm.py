"""Text-and-data-mining reservations (DSM directive Art. 4(3)): a page whose rightsholder reserved
it from TDM in a machine-readable way is dropped, with the reason saying where the reservation was.

Read from what the WARC reader keeps in `meta` (`http_headers`, `html_meta`; see readers/warc.py),
so any document that carries those keys is checked, whatever its input format:

    tdm_header         TDMRep response header `tdm-reservation: 1`
    tdm_meta           TDMRep `<meta name="tdm-reservation" content="1">`
    tdm_x_robots_tag   a `noai`-style directive in `X-Robots-Tag` (for every agent, or one named
                       in `user_agents`: `X-Robots-Tag: GPTBot: noai`)
    tdm_robots_meta    a `noai`-style directive in `<meta name="robots">` or in a `<meta>` named for
                       an agent in `user_agents` (`<meta name="gptbot" content="noai">`)
    tdm_site_list      the page's domain is on the user's reservation list (`domain_list`)
    tdm_site_robots    the site's robots.txt snapshot (`robots_dir`) disallows the page for one of
                       the `user_agents` (checked with `urllib.robotparser`)
    tdm_robots_unparseable  the site's snapshot cannot be read as robots.txt (`on_unparseable: drop`)

Counts per reason go to stats.json (like every drop reason), and per domain as
`tdm_domain.<reason>.<host>`; `robots_unparseable.<why>.<host>` counts the pages of sites whose
snapshot could not be used. `tdm_stats.tdm_summary` turns them into stats.json's `tdm` section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from data_prep.document import Document
from data_prep.pipeline.registry import STEPS
from data_prep.pipeline.step import BaseFilter, FilterResult
from data_prep.steps.params import build_params, check
from data_prep.steps.tdm_sites import SiteReservations, disallowed_for
from llm_train.utils.urls import url_host

# X-Robots-Tag directives that carry a value after a colon: not an agent prefix.
_VALUED = {"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"}
_AGENT_PREFIX = re.compile(r"^\s*([A-Za-z0-9._-]+)\s*:\s*(.*)$")


@dataclass(frozen=True)
class TdmParams:
    http_header: bool = True
    html_meta: bool = True
    # Directives that reserve a page from AI training. `noimageai` reserves its images only; a
    # text corpus honours it too unless told otherwise (a reservation read too widely costs a
    # page, one read too narrowly costs a rightsholder's choice).
    robots_directives: list[str] = field(default_factory=lambda: ["noai", "noimageai"])
    # AI crawler user agents whose rules apply to us (robots.txt groups, agent-named meta tags).
    user_agents: list[str] = field(default_factory=list)
    robots_dir: str | None = None
    domain_list: str | None = None
    # robots.txt `User-agent: *` rules apply to the named agents too (robotparser's own rule).
    honour_wildcard: bool = True
    on_unparseable: str = "keep"

    def validate(self, step: str) -> None:
        check(
            self.on_unparseable in ("keep", "drop"),
            step,
            "on_unparseable",
            "keep or drop",
            self.on_unparseable,
        )
        for key in ("robots_directives", "user_agents"):
            value = getattr(self, key)
            check(
                isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value),
                step,
                key,
                "a list of names",
                value,
            )


def _values(value: object) -> list[str]:
    text = value if isinstance(value, str) else "" if value is None else str(value)
    return [v.strip().lower() for v in text.split(",") if v.strip()]


def _tokens(content: object) -> set[str]:
    return {t for t in re.split(r"[\s,]+", str(content).lower()) if t}


@STEPS.register("tdm")
class TdmReservationFilter(BaseFilter):
    name = "tdm"

    def __init__(self, **params):
        super().__init__()
        self.params = p = build_params(TdmParams, self.name, params)
        self.directives = {d.strip().lower() for d in p.robots_directives}
        self.agents = [a.strip() for a in p.user_agents]
        self.agent_names = {a.lower() for a in self.agents}
        self.sites = SiteReservations(p.robots_dir, p.domain_list, self.agents, p.honour_wildcard)

    # -- page-level reservations ------------------------------------------------------------
    def _x_robots(self, value: str) -> bool:
        agent = None  # directives before any agent prefix apply to every crawler
        for part in value.split(","):
            m = _AGENT_PREFIX.match(part)
            if m and m.group(1).lower() not in _VALUED:
                agent, part = m.group(1).lower(), m.group(2)
            if (agent is None or agent in self.agent_names) and _tokens(part) & self.directives:
                return True
        return False

    def _robots_meta(self, meta: dict[str, str]) -> bool:
        for name, content in meta.items():
            if (name == "robots" or name in self.agent_names) and _tokens(content) & self.directives:
                return True
        return False

    def page_reason(self, headers: dict[str, str], meta: dict[str, str]) -> str | None:
        p = self.params
        if p.http_header and "1" in _values(headers.get("tdm-reservation")):
            return "tdm_header"
        if p.html_meta and "1" in _values(meta.get("tdm-reservation")):
            return "tdm_meta"
        if self.directives and "x-robots-tag" in headers and self._x_robots(str(headers["x-robots-tag"])):
            return "tdm_x_robots_tag"
        if self.directives and self._robots_meta(meta):
            return "tdm_robots_meta"
        return None

    # -- site-level reservations ------------------------------------------------------------
    def site_reason(self, url: str, host: str) -> str | None:
        if self.sites.listed(host):
            return "tdm_site_list"
        try:
            raw_host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            return None
        snapshot = self.sites.snapshot(raw_host)
        if snapshot is None:
            return None
        if snapshot.problem:
            self.stats.update(f"robots_unparseable.{snapshot.problem}.{host or '-'}", 1)
            return "tdm_robots_unparseable" if self.params.on_unparseable == "drop" else None
        if disallowed_for(snapshot, self.agents, url, self.params.honour_wildcard):
            return "tdm_site_robots"
        return None

    def filter(self, doc: Document) -> FilterResult:
        headers = doc.meta.get("http_headers")
        meta = doc.meta.get("html_meta")
        headers = headers if isinstance(headers, dict) else {}
        meta = meta if isinstance(meta, dict) else {}
        if "http_headers" in doc.meta:
            self.stats.update("checked.http_headers", 1, doc.lang)
        if "html_meta" in doc.meta:
            self.stats.update("checked.html_meta", 1, doc.lang)
        host = url_host(doc.url)
        reason = self.page_reason(headers, meta)
        if reason is None and doc.url and self.sites.active:
            self.stats.update("checked.site", 1, doc.lang)
            reason = self.site_reason(doc.url, host)
        if reason is None:
            return True
        self.stats.update(f"tdm_domain.{reason}.{host or '-'}", 1)
        return False, reason
