"""The individual checks. Each returns one `Check` with a fix hint when it is not a pass."""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from urllib.parse import urlparse


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    hint: str = ""


def python_version() -> Check:
    v = sys.version_info
    text = f"{v.major}.{v.minor}.{v.micro}"
    if (v.major, v.minor) < (3, 11):
        return Check("python", Status.FAIL, text, "use Python >= 3.11 (module load Python, or a venv)")
    return Check("python", Status.PASS, text)


def torch_stack() -> list[Check]:
    """torch, its CUDA/ROCm build, the collective library and the visible GPUs."""
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        return [Check("torch", Status.FAIL, f"import failed: {exc}", "pip install -e . in the run's venv")]
    out = [Check("torch", Status.PASS, torch.__version__)]
    if torch.version.hip:
        out.append(Check("rocm", Status.PASS, f"HIP {torch.version.hip}"))
    elif torch.version.cuda:
        out.append(Check("cuda", Status.PASS, f"CUDA {torch.version.cuda}"))
    else:
        out.append(
            Check(
                "cuda/rocm",
                Status.WARN,
                "CPU-only torch build",
                "install a CUDA or ROCm torch wheel on GPU nodes",
            )
        )
    if torch.cuda.is_available():
        try:
            nccl = ".".join(map(str, torch.cuda.nccl.version()))
            lib = "rccl" if torch.version.hip else "nccl"
            out.append(Check(lib, Status.PASS, nccl))
        except Exception as exc:  # noqa: BLE001
            out.append(Check("nccl", Status.WARN, f"version unknown: {exc}", "check the torch build"))
    return out


def gpus_visible(expected: int) -> Check:
    try:
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        names = sorted({torch.cuda.get_device_name(i) for i in range(count)})
    except Exception as exc:  # noqa: BLE001
        return Check(
            "gpus", Status.FAIL, f"cannot query devices: {exc}", "check the driver (nvidia-smi / rocm-smi)"
        )
    detail = f"{count} visible" + (f" ({', '.join(names)})" if names else "")
    if expected and count == 0:
        return Check(
            "gpus",
            Status.WARN,
            f"{detail}; the profile has {expected} per node",
            "run doctor inside an allocation (srun ... llm-train doctor) to see the GPUs",
        )
    if expected and count < expected:
        return Check(
            "gpus",
            Status.FAIL,
            f"{detail}; the profile has {expected} per node",
            "check --gres/--gpus-per-node and CUDA_VISIBLE_DEVICES / ROCR_VISIBLE_DEVICES",
        )
    return Check("gpus", Status.PASS, detail)


def importable(module: str, required: bool, hint: str, dist: str | None = None) -> Check:
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001
        return Check(module, Status.FAIL if required else Status.WARN, f"not importable: {exc}", hint)
    try:
        version = metadata.version(dist or module)
    except metadata.PackageNotFoundError:
        version = "importable"
    return Check(module, Status.PASS, version)


def offline_caches(tokenizer: str | None) -> list[Check]:
    out = []
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True", "YES", "yes"):
        out.append(Check("HF_HUB_OFFLINE", Status.PASS, "set"))
    else:
        out.append(
            Check(
                "HF_HUB_OFFLINE",
                Status.WARN,
                "not set",
                "export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1: compute nodes usually have no internet",
            )
        )
    if tokenizer:
        path = Path(tokenizer)
        found = (path / "tokenizer.json").exists() or (path.is_file() and path.suffix == ".json")
        if found:
            out.append(Check("tokenizer", Status.PASS, str(path)))
        else:
            out.append(
                Check(
                    "tokenizer",
                    Status.FAIL,
                    f"{path}: no tokenizer.json",
                    "run `llm-train tokenizer` or copy the tokenizer dir to shared storage first",
                )
            )
    return out


def run_dir(path: Path, need_gb: float) -> list[Check]:
    path = path.expanduser().absolute()
    # The run dir may not exist yet: probe the deepest existing ancestor, creating nothing.
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        if not probe.is_dir():
            raise NotADirectoryError(f"{probe} is not a directory")
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".doctor-", delete=True) as fh:
            fh.write(b"ok")
            fh.flush()
        writable = Check("run dir", Status.PASS, f"{path} writable")
    except OSError as exc:
        return [
            Check(
                "run dir",
                Status.FAIL,
                f"{path}: {exc}",
                "set runs_dir (or LLM_TRAIN_RUNS) to a writable project/scratch path",
            )
        ]
    free = shutil.disk_usage(probe).free / 1e9
    if free < need_gb:
        space = Check(
            "free space",
            Status.WARN,
            f"{free:,.0f} GB free at {path}, about {need_gb:,.0f} GB needed",
            "use a scratch file system or lower checkpoint.keep_last",
        )
    else:
        space = Check("free space", Status.PASS, f"{free:,.0f} GB free (about {need_gb:,.0f} GB needed)")
    return [writable, space]


def not_world_readable(path: Path, what: str) -> Check:
    """A run dir or corpus anyone on the machine can read: a partner's data or personal data leaks."""
    from llm_train.storage import world_readable

    if not path.exists():
        return Check(f"{what} access", Status.PASS, f"{path} does not exist yet")
    found = world_readable(path, limit=3)
    if (path.stat().st_mode & 0o004) and path not in found:
        found.insert(0, path)
    if not found:
        return Check(f"{what} access", Status.PASS, f"{path}: not readable by other users")
    return Check(
        f"{what} access",
        Status.WARN,
        f"readable by every user of this machine: {', '.join(str(p) for p in found[:3])}",
        f"chmod -R o-rwx {path}; write with storage.share=group (the default) or --share private",
    )


def slurm_commands(required: bool) -> Check:
    names = ("sbatch", "srun", "squeue", "sacct", "scancel")
    missing = [n for n in names if shutil.which(n) is None]
    if not missing:
        return Check("slurm", Status.PASS, "sbatch, srun, squeue, sacct, scancel found")
    status = Status.FAIL if required else Status.WARN
    return Check(
        "slurm",
        status,
        f"missing: {', '.join(missing)}",
        "load the site's Slurm environment, or use a local cluster profile"
        if required
        else "only needed for `llm-train submit`",
    )


def aim_server(repo: str | None, timeout_s: float = 3.0) -> Check:
    if not repo or not repo.startswith("aim://"):
        return Check("aim server", Status.PASS, f"local repo ({repo or '<runs_dir>/aim'}), no server needed")
    url = urlparse(repo)
    host, port = url.hostname or "127.0.0.1", url.port or 53800
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return Check("aim server", Status.PASS, f"{host}:{port} reachable")
    except OSError as exc:
        return Check(
            "aim server",
            Status.WARN,
            f"{host}:{port} unreachable ({exc})",
            "start `aim server` or unset tracking.aim_repo; training continues, metrics.jsonl keeps all",
        )
