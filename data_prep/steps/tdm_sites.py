"""Site-level TDM reservations the user supplies: robots.txt snapshots and a domain list.

    robots_dir/   one robots.txt per site, as it was when the pages were crawled:
                  `<host>.txt` or `<host>/robots.txt` (`www.example.org.txt` and `example.org.txt`
                  both serve www.example.org). Checked per URL with the standard library's
                  `urllib.robotparser` for the AI crawler user agents the user names.
    domain_list   a text file, one domain per line (`#` comments); a domain covers its subdomains.

A snapshot that cannot be read as robots.txt (not UTF-8, binary, an HTML error page saved under the
name, lines none of which is a robots.txt directive) is never a crash: its site is reported as
unparseable with that reason, and its pages are kept or dropped as the step says.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from urllib.robotparser import RobotFileParser

from llm_train.errors import ConfigError
from llm_train.utils.urls import domain_matches, host_of

log = logging.getLogger(__name__)

# Crawlers read at most 500 KiB of a robots.txt (RFC 9309 asks for at least that much).
MAX_ROBOTS_BYTES = 500 * 1024
_DIRECTIVE = re.compile(
    r"^\s*(user-agent|disallow|allow|sitemap|crawl-delay|request-rate|host|clean-param|noindex)\s*:", re.I
)
_HTML = re.compile(r"<\s*(html|!doctype|head|body|title)\b", re.I)


@dataclass
class RobotsSnapshot:
    parser: RobotFileParser | None
    problem: str | None = None  # why it could not be used: not_utf8, binary, html, no_directives, ...


def parse_robots(data: bytes) -> RobotsSnapshot:
    """A robots.txt snapshot, or the reason it is not one."""
    data = data[:MAX_ROBOTS_BYTES]
    if b"\x00" in data:
        return RobotsSnapshot(None, "binary")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return RobotsSnapshot(None, "not_utf8")
    if _HTML.search(text[:4096]):
        return RobotsSnapshot(None, "html")
    lines = text.splitlines()
    content = [line for line in lines if line.split("#", 1)[0].strip()]
    if content and not any(_DIRECTIVE.match(line) for line in content):
        return RobotsSnapshot(None, "no_directives")
    parser = RobotFileParser()
    try:
        parser.parse(lines)
    except Exception as exc:  # the parser is lenient; anything it still chokes on is bad input
        return RobotsSnapshot(None, f"parse_error:{type(exc).__name__}")
    return RobotsSnapshot(parser)


def _url_path(url: str) -> str:
    # What RobotFileParser.can_fetch compares rules with.
    parsed = urllib.parse.urlparse(urllib.parse.unquote(url))
    path = urllib.parse.urlunparse(("", "", parsed.path, parsed.params, parsed.query, parsed.fragment))
    return urllib.parse.quote(path) or "/"


def disallowed_for(snapshot: RobotsSnapshot, agents: list[str], url: str, wildcard: bool) -> str | None:
    """The first named agent the snapshot disallows `url` for, or None.

    `wildcard=False` ignores the `User-agent: *` group: only rules that name an agent count.
    """
    parser = snapshot.parser
    if parser is None:
        return None
    for agent in agents:
        if wildcard:
            if not parser.can_fetch(agent, url):
                return agent
            continue
        path = _url_path(url)
        for entry in parser.entries:
            if entry.applies_to(agent):
                if not entry.allowance(path):
                    return agent
                break
    return None


class SiteReservations:
    """Per-host robots.txt snapshots (read once per host, lazily) and a reserved-domain list."""

    def __init__(
        self, robots_dir: str | None, domain_list: str | None, agents: list[str], wildcard: bool = True
    ):
        self.robots_dir = Path(robots_dir) if robots_dir else None
        if self.robots_dir is not None and not self.robots_dir.is_dir():
            raise ConfigError(f"step 'tdm': robots_dir {str(self.robots_dir)!r} is not a directory")
        if self.robots_dir is not None and not agents:
            raise ConfigError(
                "step 'tdm': robots_dir needs user_agents, the AI crawler names its rules are read for "
                "(e.g. [GPTBot, CCBot, Google-Extended])"
            )
        self.agents = list(agents)
        self.wildcard = wildcard
        self.domains: frozenset[str] = frozenset(_read_domains(domain_list)) if domain_list else frozenset()
        self._snapshots: dict[str, RobotsSnapshot | None] = {}

    @property
    def active(self) -> bool:
        return self.robots_dir is not None or bool(self.domains)

    def listed(self, host: str) -> bool:
        return bool(self.domains) and domain_matches(host, self.domains)

    def snapshot(self, raw_host: str) -> RobotsSnapshot | None:
        """The snapshot of a site (None when the user supplied none for it)."""
        if self.robots_dir is None or not raw_host:
            return None
        if raw_host not in self._snapshots:
            self._snapshots[raw_host] = self._load(raw_host)
        return self._snapshots[raw_host]

    def _load(self, raw_host: str) -> RobotsSnapshot | None:
        names = dict.fromkeys([raw_host, host_of(raw_host), f"www.{host_of(raw_host)}"])
        for name in names:
            for path in (self.robots_dir / f"{name}.txt", self.robots_dir / name / "robots.txt"):
                if path.is_file():
                    try:
                        snap = parse_robots(path.read_bytes())
                    except OSError as exc:
                        snap = RobotsSnapshot(None, f"unreadable:{type(exc).__name__}")
                    if snap.problem:
                        log.warning(
                            "tdm: robots.txt of %s is unusable (%s): %s", raw_host, snap.problem, path
                        )
                    return snap
        return None


def _read_domains(path: str) -> list[str]:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"step 'tdm': domain_list {path!r} does not exist")
    out = []
    for n, raw in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip().removeprefix("domain:")
        if not line:
            continue
        if "/" in line or " " in line:
            raise ConfigError(f"step 'tdm': domain_list {path}:{n}: {raw.strip()!r} is not a domain name")
        out.append(host_of(line))
    return out
