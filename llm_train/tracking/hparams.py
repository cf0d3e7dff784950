"""What a run records about itself: resolved config, its hash, the git commit, package versions."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("llm-train", "torch", "deepspeed", "megatron-core", "transformers", "aim", "numpy")


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd or Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def run_hparams(config: dict, sha256: str) -> dict:
    return {
        "config": config,
        "config_sha256": sha256,
        "git_commit": git_commit(),
        "versions": package_versions(),
    }
