"""Helpers of the end-to-end test: a real `aim up` on loopback and a reader of its HTTP API.

`aim up` starts a uvicorn child that outlives its parent when only the parent is killed, so the
UI runs in its own process group and the whole group is signalled at the end.
"""

from __future__ import annotations

import json
import struct
import sys
import urllib.parse
import urllib.request
from pathlib import Path


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
