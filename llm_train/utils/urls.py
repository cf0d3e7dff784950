"""How a document's URL is compared: the one rule for opt-out lists, TDM site lists, erasure
requests and lineage lookups.

Two URLs name the same page when they differ only in scheme, case of the host, a leading "www.",
a default port, a trailing slash or the fragment; the query is kept. A domain matches itself and
its subdomains, never a longer name that merely ends the same way (example.org is not
badexample.org).
"""

from __future__ import annotations

from urllib.parse import urlsplit


def host_of(netloc: str) -> str:
    """Lower-case host of a URL's netloc, without user info, default port, final dot or "www."."""
    host = netloc.rsplit("@", 1)[-1].lower()
    if host.endswith((":80", ":443")):
        host = host.rsplit(":", 1)[0]
    host = host.rstrip(".")
    return host[4:] if host.startswith("www.") else host


def url_host(url: str | None) -> str:
    """The compared host of a URL ("" when there is none or it cannot be parsed)."""
    if not url:
        return ""
    try:
        return host_of(urlsplit(url.strip()).netloc)
    except ValueError:
        return ""


def normalize_url(url: str) -> str:
    """Scheme-less, lower-case host without www./default port, path without trailing slash, query kept."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/") or ""
    query = f"?{parts.query}" if parts.query else ""
    return f"{host_of(parts.netloc)}{path}{query}"


def domain_matches(host: str, domains: set[str] | frozenset[str]) -> bool:
    """True when `host` is one of `domains` or a subdomain of one."""
    while host:
        if host in domains:
            return True
        _, dot, host = host.partition(".")
        if not dot:
            return False
    return False
