"""The UI's door: refuses writes (unless writable) and requests made by other web pages.

Aim's own `--read-only` covers deleting, archiving and editing runs and experiments, but leaves tags,
notes, dashboards, reports and new experiments writable (Aim 3.29). This guard refuses every method
but GET/HEAD/OPTIONS, except the POSTs the UI uses to read (batched sequence fetches).

Aim answers any origin (`Access-Control-Allow-Origin: *`), so while a tunnel is open any web page the
user visits could read the experiments from `http://127.0.0.1:PORT`, or, writable, delete runs. The
guard refuses a request whose `Origin` is not the UI's own, and, on a loopback address or socket, one
whose `Host` is not a loopback name (DNS rebinding: a foreign name pointed at 127.0.0.1).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# POST endpoints that only read: /api/runs/search/metric/align/, /api/runs/<id>/<seq>/get-batch/,
# /api/runs/<seq>/get-batch (blobs), /api/runs/<id>/<seq>/get-step/.
READ_POSTS = re.compile(r"^/api/runs/(search/metric/align|[^/]+/get-batch|[^/]+/[^/]+/get-(batch|step))/?$")


def is_loopback_name(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_host(value: str) -> str:
    """`host[:port]` or `[v6]:port` -> host."""
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class UIGuard:
    """ASGI middleware in front of Aim's app."""

    def __init__(self, app, writable: bool = False, loopback_only: bool = True):
        self.app = app
        self.writable = writable
        self.loopback_only = loopback_only

    def refusal(self, scope) -> str | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if self.loopback_only and not is_loopback_name(_split_host(host)):
            return f"Host {host!r} is not a loopback name (open the UI as http://127.0.0.1:PORT)"
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
            return f"request from another web page ({origin})"
        method = scope.get("method", "GET")
        if not self.writable and method not in SAFE_METHODS and not READ_POSTS.match(scope.get("path", "")):
            return "the UI is read-only (start it with --writable to change runs)"
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        reason = self.refusal(scope)
        if reason is None:
            return await self.app(scope, receive, send)
        log.warning("refused %s %s: %s", scope.get("method", "WS"), scope.get("path"), reason)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        body = json.dumps({"detail": reason}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
