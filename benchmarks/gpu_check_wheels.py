"""The wheelhouse of the GPU check: built here (`make gpu-wheels`), installed on a GPU node offline.

A GPU node brings its own Python 3.12, CUDA torch and (usually) transformers, but not the rest of
what the check imports. The wheelhouse carries that rest, for CPython 3.12 on manylinux x86_64:

    python benchmarks/gpu_check_wheels.py build --out build/gpu-wheels
    python benchmarks/gpu_check_wheels.py install --wheelhouse build/gpu-wheels --target DIR [--dry-run]

`build` downloads binary wheels (`pip download --only-binary=:all: --python-version 3.12 ...`),
builds DeepSpeed from its source archive as a pure-Python wheel (ops are JIT-built on first use,
none is on the check's path), and follows every wheel's requirements until the set is closed.
`install` installs only what the node's Python lacks or has in a version the requirements refuse
(`pip install --no-index --no-deps --target DIR`): whatever the node has and fits is left alone,
so its CUDA builds are never shadowed. The node's CUDA stack (torch, triton, nvidia-*) is never
carried.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

try:
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename
    from packaging.version import Version
except ImportError:  # a bare node: pip carries its own copy
    from pip._vendor.packaging.markers import default_environment
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename
    from pip._vendor.packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
MANIFEST = "MANIFEST.json"
LIMIT_BYTES = 64 * 2**20
# The project's dependencies that the check imports (its steps, `llm-train export` and `llm-train
# plan`); their version ranges come from pyproject.toml. tests/test_gpu_check.py compares this
# with the modules a CPU dry run really imports.
CHECK_PATH = ("megatron-core", "deepspeed", "pydantic", "pyyaml", "rich", "safetensors", "numpy", "tqdm")
# The megatron-core that CI runs (0.16.x, the last for Python 3.11): one GPU run should prove the
# code the CPU tests prove, not a newer megatron at the same time.
PINS = {"megatron-core": "==0.16.1"}
# Checked on the node, never carried: CUDA images ship transformers 5, which runs the check's HF
# code (DeepSpeed's Llama, the export, from_pretrained); carrying it would add ~25 MiB.
HOST_ROOTS = ("transformers>=4.45,<6",)
BUILT_FROM_SOURCE = ("deepspeed",)
HOST_ONLY = re.compile(r"^(torch|triton|setuptools|pip|nvidia-.*|cuda-.*)$")
PYTHON_VERSION = "3.12"
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64")


def roots() -> list[Requirement]:
    """The check path's requirements, with pyproject's version ranges for this Python."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    env = target_environment()
    wanted = {canonicalize_name(n) for n in CHECK_PATH}
    out = [Requirement(d) for d in deps]
    out = [r for r in out if canonicalize_name(r.name) in wanted and (not r.marker or r.marker.evaluate(env))]
    missing = wanted - {canonicalize_name(r.name) for r in out}
    if missing:
        raise SystemExit(f"pyproject.toml lists no dependency named {sorted(missing)}")
    for r in out:
        r.specifier &= PINS.get(canonicalize_name(r.name), "")
    return out


def target_environment() -> dict[str, str]:
    env = default_environment()
    env.update(
        python_version=PYTHON_VERSION,
        python_full_version=f"{PYTHON_VERSION}.0",
        implementation_name="cpython",
        platform_python_implementation="CPython",
        sys_platform="linux",
        platform_system="Linux",
        platform_machine="x86_64",
        os_name="posix",
    )
    return env


def wheel_metadata(path: Path) -> tuple[str, Version, list[Requirement]]:
    """(canonical name, version, requirements without extras) of a wheel file."""
    name, version, _, _ = parse_wheel_filename(path.name)
    with zipfile.ZipFile(path) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(meta_name).decode())
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    return canonicalize_name(name), version, reqs


def needed(req: Requirement, env: dict[str, str]) -> bool:
    """A requirement that applies on the target without any extra."""
    return not req.marker or req.marker.evaluate({**env, "extra": ""})


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def fetch(req: Requirement, out: Path) -> None:
    # Without its marker: pip would evaluate it for the Python running pip, not the target's.
    spec = f"{req.name}{req.specifier}"
    if canonicalize_name(req.name) in BUILT_FROM_SOURCE:
        # An sdist only: build it here without torch (no ops precompiled) -> py3-none-any.
        pip("wheel", "--no-deps", "-q", "-w", str(out), spec)
        return
    args = ["download", "--no-deps", "-q", "-d", str(out), "--only-binary=:all:"]
    args += ["--python-version", PYTHON_VERSION, "--implementation", "cp", "--abi", "cp312"]
    args += [arg for plat in PLATFORMS for arg in ("--platform", plat)]
    pip(*args, spec)


def wheels(directory: Path) -> dict[str, tuple[Path, Version, list[Requirement]]]:
    out = {}
    for path in sorted(Path(directory).glob("*.whl")):
        name, version, reqs = wheel_metadata(path)
        out[name] = (path, version, reqs)
    return out


def build(out: Path) -> int:
    """Download / build the closure of `roots()`, checked; write MANIFEST.json."""
    out.mkdir(parents=True, exist_ok=True)
    env = target_environment()
    todo, seen, problems = list(roots()), {}, []
    while todo:
        req = todo.pop(0)
        name = canonicalize_name(req.name)
        if HOST_ONLY.match(name):
            continue
        have = wheels(out)
        if name not in have:
            print(f"fetching {req}")
            fetch(req, out)
            have = wheels(out)
        _, version, reqs = have[name]
        if not req.specifier.contains(version, prereleases=True):
            problems.append(f"{name} {version} in the wheelhouse does not satisfy {req}")
        if name not in seen:
            seen[name] = str(req)
            todo += [r for r in reqs if needed(r, env)]
    have = wheels(out)
    stale = sorted(set(have) - set(seen))
    for name in stale:
        have.pop(name)[0].unlink()
    manifest = {
        "python": PYTHON_VERSION,
        "roots": [str(r) for r in roots()],
        "host_roots": list(HOST_ROOTS),
        "wheels": {name: {"file": p.name, "version": str(v)} for name, (p, v, _) in sorted(have.items())},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    size = sum(p.stat().st_size for p, _, _ in have.values())
    print(f"{len(have)} wheels, {size / 2**20:.1f} MiB in {out}" + (f" (removed {stale})" if stale else ""))
    if size > LIMIT_BYTES:
        problems.append(f"wheelhouse is {size / 2**20:.1f} MiB, over the {LIMIT_BYTES / 2**20:.0f} MiB limit")
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    return 1 if problems else 0


def installed_version(name: str) -> Version | None:
    try:
        return Version(metadata.version(name))
    except metadata.PackageNotFoundError:
        return None


def select(wheelhouse: Path) -> dict:
    """Which wheels this Python needs: requirements it does not satisfy, followed transitively."""
    manifest = json.loads((wheelhouse / MANIFEST).read_text())
    have = wheels(wheelhouse)
    env = default_environment()
    todo = [Requirement(r) for r in manifest["roots"]]
    chosen: dict[str, str] = {}
    host: dict[str, str] = {}
    missing: list[str] = []
    for req in map(Requirement, manifest.get("host_roots", [])):
        version = installed_version(req.name)
        if version is None or not req.specifier.contains(version, prereleases=True):
            missing.append(f"{req} (this Python has {version or 'none'}; not carried)")
        else:
            host[canonicalize_name(req.name)] = str(version)
    while todo:
        req = todo.pop(0)
        name = canonicalize_name(req.name)
        if name in chosen or not needed(req, env):
            continue
        version = installed_version(name)
        if version is not None and req.specifier.contains(version, prereleases=True):
            host[name] = str(version)
            continue
        if name not in have or not req.specifier.contains(have[name][1], prereleases=True):
            missing.append(f"{req} (this Python has {version or 'none'}; the wheelhouse has no fit)")
            continue
        path, wheel_version, reqs = have[name]
        chosen[name] = path.name
        host.pop(name, None)
        todo += reqs
    return {"install": chosen, "host": host, "missing": missing}


def install(wheelhouse: Path, target: Path, dry_run: bool, report: Path | None) -> int:
    plan = select(wheelhouse)
    if plan["install"] and not dry_run:
        target.mkdir(parents=True, exist_ok=True)
        files = [str(wheelhouse / f) for f in plan["install"].values()]
        pip("install", "-q", "--no-index", "--no-deps", "--no-compile", "--target", str(target), *files)
    plan.update(target=str(target), dry_run=dry_run, python=sys.version.split()[0])
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(plan, indent=2) + "\n")
    verb = "would install" if dry_run else "installed"
    print(
        f"wheelhouse: {verb} {len(plan['install'])} ({', '.join(sorted(plan['install'])) or 'none'}); "
        f"{len(plan['host'])} from this Python; missing: {plan['missing'] or 'none'}"
    )
    return 1 if plan["missing"] else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="download and build the wheelhouse (needs the package registry)")
    b.add_argument("--out", type=Path, default=REPO / "build" / "gpu-wheels")
    i = sub.add_parser("install", help="install what this Python lacks, offline")
    i.add_argument("--wheelhouse", type=Path, default=REPO / "build" / "gpu-wheels")
    i.add_argument("--target", type=Path, required=True)
    i.add_argument("--dry-run", action="store_true", help="only say what would be installed")
    i.add_argument("--report", type=Path, help="write the selection as JSON")
    args = p.parse_args(argv)
    if args.cmd == "build":
        return build(args.out)
    return install(args.wheelhouse, args.target, args.dry_run, args.report)


if __name__ == "__main__":
    sys.exit(main())
