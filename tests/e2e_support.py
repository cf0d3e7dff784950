"""Helpers of the end-to-end test: a real `aim up` on loopback and a reader of its HTTP API.

`aim up` starts a uvicorn child that outlives its parent when only the parent is killed, so the
UI runs in its own process group and the whole group is signalled at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def aim_up(repo: Path, log: Path, timeout: float = 90.0) -> Iterator[str]:
    """Serve ``repo`` with `aim up` on 127.0.0.1; yield the base URL; stop the process group."""
    port = free_port()
    aim = Path(sys.executable).parent / "aim"
    cmd = [str(aim), "up", "--host", "127.0.0.1", "--port", str(port), "--repo", str(repo), "-y"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"aim up exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                get_json(base, "/api/projects/")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"aim up not serving after {timeout:.0f} s: {log.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.5)
        yield base
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    # The uvicorn child may still be alive after its parent exited: the group goes either way.
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)


def get_json(base: str, path: str) -> dict | list:
    with urllib.request.urlopen(base + path, timeout=60) as resp:
        return json.loads(resp.read())


def search_runs(base: str, query: str) -> dict[str, dict]:
    """`GET /api/runs/search/run/` as the UI calls it: a stream of length-prefixed (key, value)
    pairs of Aim's encoded tree, decoded with Aim's own decoder; returns {run hash: run}."""
    from aim.storage.treeutils import decode_tree

    url = f"{base}/api/runs/search/run/?q={urllib.parse.quote(query)}&report_progress=false"
    with urllib.request.urlopen(url, timeout=120) as resp:
        data = resp.read()
    pairs, i = [], 0
    while i < len(data):
        (klen,) = struct.unpack_from("I", data, i)
        key = data[i + 4 : i + 4 + klen]
        i += 4 + klen
        (vlen,) = struct.unpack_from("I", data, i)
        pairs.append((key, data[i + 4 : i + 4 + vlen]))
        i += 4 + vlen
    tree = decode_tree(iter(pairs)) if pairs else {}
    return {k: v for k, v in tree.items() if not str(k).startswith("progress_")}
