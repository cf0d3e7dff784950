"""Test helpers for `llm-train track ui`: start it, talk HTTP over its Unix socket, forward a TCP port
to the socket (what `ssh -L` does on a laptop), and drive Debian's headless Chromium through
chromedriver's WebDriver HTTP API (plain urllib: no client library needed).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def ui_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "llm_train.cli.main", "track", "ui", *args]


@contextmanager
def track_ui(*args: str, log: Path, timeout: float = 120.0) -> Iterator[tuple[subprocess.Popen, str]]:
    """Run `llm-train track ui ARGS` in its own session; yield (process, its output so far) once it
    has printed the tunnel command; SIGTERM at the end and wait for a clean exit."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            ui_cmd(*args), stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO
        )
    try:
        deadline = time.monotonic() + timeout
        while "ssh -N" not in log.read_text():
            if proc.poll() is not None:
                raise RuntimeError(f"track ui exited with {proc.returncode}: {log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"track ui printed no tunnel in {timeout:.0f} s: {log.read_text()}")
            time.sleep(0.3)
        yield proc, log.read_text()
    finally:
        stop(proc)


def stop(proc: subprocess.Popen, grace: float = 30.0) -> int:
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    return proc.returncode


def socket_of(output: str) -> Path:
    match = re.search(r"socket (/\S+\.sock)", output)
    assert match, output
    return Path(match.group(1))


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str | Path, timeout: float = 120.0):
        super().__init__("localhost", timeout=timeout)
        self.path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def uds_request(path: Path, method: str, url: str, body: dict | None = None, headers=None):
    """(status, parsed JSON or raw bytes) of one HTTP request over the Unix socket."""
    conn = UnixHTTPConnection(path)
    try:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data else {}
        conn.request(method, url, body=data, headers={**hdrs, **(headers or {})})
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(raw)
    except ValueError:
        return resp.status, raw


def wait_served(path: Path, timeout: float = 120.0) -> None:
    """Until the UI answers its API over the socket (the server starts after indexing)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, _ = uds_request(path, "GET", "/api/projects/")
            if status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no answer on {path} in {timeout:.0f} s")
        time.sleep(0.5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Forwarder:
    """127.0.0.1:PORT -> a Unix socket, one thread pair per connection (what `ssh -L` does)."""

    def __init__(self, target: Path):
        self.target = str(target)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.target)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._closing = True
        self.listener.close()


def chromium_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


class Chromium:
    """A headless Chromium session through chromedriver's W3C WebDriver API."""

    # Flags that work on a machine without a network: no background fetches, no sandbox (root).
    ARGS = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1600,1000",
    ]

    def __init__(self, browser: str, driver: str, profile: Path, log: Path):
        self.port = free_port()
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [driver, f"--port={self.port}"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if self._call("GET", "/status")["ready"]:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError(f"chromedriver did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        caps = {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": browser, "args": [*self.ARGS, f"--user-data-dir={profile}"]},
        }
        try:
            self.session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})[
                "sessionId"
            ]
        except Exception:
            self.close()
            raise

    def _call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return json.loads(resp.read())["value"]
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"WebDriver {method} {path}: {exc.read()[:2000]!r}") from None

    def get(self, url: str) -> None:
        self._call("POST", f"/session/{self.session}/url", {"url": url})

    def script(self, js: str, *args):
        return self._call("POST", f"/session/{self.session}/execute/sync", {"script": js, "args": list(args)})

    def text(self) -> str:
        return self.script("return document.body ? document.body.innerText : ''")

    def wait_text(self, *needles: str, timeout: float = 120.0) -> str:
        """The page's visible text once it contains every needle."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if all(n in text for n in needles):
                return text
            if time.monotonic() > deadline:
                raise TimeoutError(f"page never showed {needles}; it shows:\n{text[:3000]}")
            time.sleep(1.0)

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self._call("GET", f"/session/{self.session}/screenshot")))
        return path

    def close(self) -> None:
        with suppress(Exception):
            if getattr(self, "session", None):
                self._call("DELETE", f"/session/{self.session}")
        stop(self.proc, grace=10)
