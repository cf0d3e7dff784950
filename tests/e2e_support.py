"""Helpers of the end-to-end test: a real `aim up` on loopback and a reader of its HTTP API.

`aim up` starts a uvicorn child that outlives its parent when only the parent is killed, so the
UI runs in its own process group and the whole group is signalled at the end.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from llm_train.launch.ports import free_port


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


SAMPLE_INPUTS = ["libreoffice-help-de", "libreoffice-help-fr", "libreoffice-help-it", "manpages-es"]
SAMPLE_LANGS = ["de", "es", "fr", "it"]
SMALL_VOCAB = 1024


def small_demo_cmd(root: Path, run_id: str, train_overrides: list[str], eval_args: str) -> list[str]:
    """`scripts/demo.py` on four sample files (de, es, fr, it), a 1k vocab and the given training size."""
    import sys

    repo = Path(__file__).resolve().parents[1]
    sample = repo / "data" / "sample"
    cmd = [sys.executable, str(repo / "scripts" / "demo.py"), "--work", str(root / "work")]
    cmd += ["--runs", str(root / "runs"), "--run-id", run_id, "--vocab-size", str(SMALL_VOCAB)]
    cmd += ["--input", *(str(sample / f"{name}.jsonl.gz") for name in SAMPLE_INPUTS)]
    # Only the four languages of these files (a one-document stray language is no test of anything),
    # and a validation split large enough for bits-per-byte and the generated task in each.
    cmd += ["--prep-set", f"steps.langid.keep=[{','.join(SAMPLE_LANGS)}]"]
    cmd += ["--prep-set", "output.validation_fraction=0.2", "--budget-tokens", "200000"]
    for override in train_overrides:
        cmd += ["--set", override]
    return [*cmd, "--eval-args", eval_args]
