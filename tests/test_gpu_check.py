"""benchmarks/gpu_check.sh: the one-command GPU check, proven on CPU before any GPU time is spent.

The dry run runs every step (a)-(f) of the GPU check with the tiny preset on gloo through the
test-only megatron CPU shim, and its summary is checked number by number. The fast tests cover what
the GPU run depends on without a GPU: the step runner (a failed, a timed-out and an out-of-memory
step), the wheel selection of an offline node, and the GPU configs themselves.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from llm_train.config import load_config
from llm_train.config.model import ModelConfig
from llm_train.model.spec import flops_per_token, param_counts
from llm_train.parallel import Runtime, resolve_layout

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import gpu_check  # noqa: E402
import gpu_check_wheels  # noqa: E402

BENCH = REPO / "configs" / "experiments" / "bench-1b-h100.yaml"
STEP_KEYS = ["a", "b", "c", "d", "e", "f1", "f2"]


# ---------------------------------------------------------------- the CPU dry run


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gpu-check")
    # Every Python process of the run records the modules it loaded (the wheelhouse check below).
    site = tmp_path_factory.mktemp("record-site")
    (site / "sitecustomize.py").write_text(RECORD_MODULES)
    (out / "modules").mkdir()
    shim = REPO / "tests" / "megatron_shim_site" / "sitecustomize.py"
    env = dict(os.environ, PYTHONPATH=str(site), GPU_CHECK_MODULES=str(out / "modules"))
    env["GPU_CHECK_SHIM_SITE"] = str(shim)
    cmd = [str(REPO / "benchmarks" / "gpu_check.sh"), "--cpu-dry-run", "--python", sys.executable, str(out)]
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=840)
    (out / "stdout.txt").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    return out


def _steps(out: Path) -> dict[str, dict]:
    summary = json.loads((out / "gpu_check.json").read_text())
    assert summary["ok"] and summary["mode"] == "cpu"
    return {s["key"]: s for s in summary["steps"]}


@pytest.mark.slow
def test_dry_run_passes_every_step_and_prints_the_summary(dry_run):
    steps = _steps(dry_run)
    assert list(steps) == STEP_KEYS
    assert all(s["status"] == "ok" for s in steps.values()), {k: s.get("reason") for k, s in steps.items()}
    md_text = (dry_run / "gpu_check.md").read_text()
    assert "**Result: all of (a)-(e) passed**" in md_text
    for key in STEP_KEYS:
        assert re.search(rf"^\| {key} \| .+ \| ok \| ", md_text, re.M), key
    printed = (dry_run / "stdout.txt").read_text()
    assert md_text.strip() in printed and '"mode": "cpu"' in printed


@pytest.mark.slow
def test_dry_run_throughput_reports_use_the_one_flop_count(dry_run):
    steps = _steps(dry_run)
    tiny = gpu_check.tiny_overrides()
    for key, backend in (("a", "megatron"), ("b", "deepspeed")):
        r = steps[key]["result"]
        assert r["backend"] == backend and r["steps"] == 2
        cfg = load_config(r["config"], r["overrides"]).config
        assert cfg.model.name == "tiny" and [o for o in tiny if o not in r["overrides"]] == []
        fpt = flops_per_token(cfg.model, cfg.train.seq_length)
        tokens = cfg.train.global_batch_size * cfg.train.seq_length
        assert r["flops_per_token"] == fpt and r["params"] == param_counts(cfg.model).total
        assert r["tokens_per_s_per_gpu"] == pytest.approx(tokens / r["step_seconds"])
        assert r["model_tflops_per_gpu"] == pytest.approx(r["tokens_per_s_per_gpu"] * fpt / 1e12)
        assert r["mfu"] == pytest.approx(r["model_tflops_per_gpu"] / r["peak_tflops"])
        assert "6 x (layer params + vocab x hidden) + 12 x layers x hidden x seq" in r["flops_formula"]
        assert r["memory"]["rss_bytes"] > 0 and 0 < r["last_loss"] < 20
    assert steps["a"]["result"]["layer_impl"] == "local" and steps["a"]["result"]["precision"] == "fp32"
    assert steps["b"]["result"]["precision"] == "bf16" and steps["b"]["result"]["zero_stage"] == 1


@pytest.mark.slow
def test_dry_run_checkpoint_export_and_memory_steps(dry_run):
    steps = _steps(dry_run)
    c = steps["c"]["result"]
    assert c["asynchronous"] and all(c["bit_equal"].values()) and c["before"] == c["after"]
    d = steps["d"]["result"]
    assert d["fp32"]["rel_l2"] < 1e-5 and d["fp32"]["top1_agreement"] == 1.0
    assert d["bf16"]["rel_l2"] < d["limits"]["bf16"]
    assert d["bf16"]["vs_fp32_rel_l2"] > 0  # bf16 really ran in bf16
    e = steps["e"]["result"]
    for key in ("a", "b"):
        assert e[key]["planned_bytes"] > 0 and e[key]["ratio"] == pytest.approx(
            e[key]["measured_bytes"] / e[key]["planned_bytes"]
        )
    assert {e["a"]["backend"], e["b"]["backend"]} == {"megatron", "deepspeed"}
    assert steps["f1"]["result"]["top_ops"] and steps["f2"]["result"]["compiler"] == "eager"


# Loaded first in every process of the dry run: records the modules it loaded, then chains to the
# project's shim sitecustomize (which it shadows).
RECORD_MODULES = """
import atexit, os, sys
def _record():
    with open(os.path.join(os.environ["GPU_CHECK_MODULES"], f"{os.getpid()}.txt"), "w") as fh:
        fh.write("\\n".join(sorted(sys.modules)))
atexit.register(_record)
import importlib.util
_spec = importlib.util.spec_from_file_location("_shim_site", os.environ["GPU_CHECK_SHIM_SITE"])
_spec.loader.exec_module(importlib.util.module_from_spec(_spec))
"""
OURS = {"llm_train", "tests", "sitecustomize", "train_step", "megatron_step"} | {
    p.stem for p in (REPO / "benchmarks").glob("gpu_check*.py")
}


def _our_files(loaded: set[str]) -> set[Path]:
    files = set()
    for name in loaded:
        if (REPO / "benchmarks" / f"{name}.py").is_file():
            files.add(REPO / "benchmarks" / f"{name}.py")
        elif name.split(".")[0] in ("llm_train", "tests"):
            spec = importlib.util.find_spec(name)
            if spec and spec.origin and spec.origin.endswith(".py"):
                files.add(Path(spec.origin))
    return files


def _third_party_imports(files: set[Path]) -> set[str]:
    """Top-level modules our loaded files import, at module or function level."""
    tops = set()
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                tops |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
    return tops - OURS - set(sys.stdlib_module_names)


def _closure(names: list[str]) -> set[str]:
    env, seen, todo = default_environment(), set(), list(names)
    while todo:
        name = canonicalize_name(Requirement(todo.pop()).name)
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = [Requirement(r) for r in md.requires(name) or []]
        except md.PackageNotFoundError:
            continue
        todo += [str(r) for r in reqs if not r.marker or r.marker.evaluate({**env, "extra": ""})]
    return seen


@pytest.mark.slow
def test_wheelhouse_roots_cover_every_import_of_the_check(dry_run):
    """A GPU node gets from the wheelhouse what it lacks, starting from CHECK_PATH: every third-party
    package that the project's code loaded in the run imports must be one of those roots, a
    dependency of one, or the node's own (torch, transformers)."""
    loaded = set()
    for dump in (dry_run / "modules").glob("*.txt"):
        loaded |= set(dump.read_text().split())
    assert {
        "llm_train.cli.export",
        "llm_train.plan.planner",
        "llm_train.backends.deepspeed_backend",
    } <= loaded
    # The scripts themselves run as __main__.
    scripts = {"train_step", "gpu_check", "gpu_check_steps", "gpu_check_report"}
    imports = _third_party_imports(_our_files(loaded | scripts))
    owners = md.packages_distributions()
    needed = {canonicalize_name(d) for m in imports for d in owners.get(m, [m])}
    assert {"megatron-core", "deepspeed", "pydantic", "pyyaml", "torch", "transformers"} <= needed
    roots = [str(r) for r in gpu_check_wheels.roots()] + list(gpu_check_wheels.HOST_ROOTS) + ["torch"]
    uncovered = needed - _closure([r.split(";")[0] for r in roots])
    assert not uncovered, f"imported by the check but neither carried nor on the node: {sorted(uncovered)}"


# ---------------------------------------------------------------- the step runner


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_failed_step_does_not_stop_the_next_and_says_why(tmp_path):
    write_ok = "import json,sys; open(sys.argv[1],'w').write(json.dumps({'ok': True, 'x': 1}))"
    oom = (
        "import sys; print('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2 GiB');"
        "sys.exit(0 if 'retry=1' in sys.argv else 1)"
    )
    steps = [
        gpu_check.Step("a", "raises", _py("raise ValueError('boom: bad layout')"), 30),
        gpu_check.Step("b", "hangs", _py("import time; time.sleep(60)"), 1),
        gpu_check.Step("c", "writes", [*_py(write_ok), str(tmp_path / "steps" / "c.json")], 30),
        gpu_check.Step("d", "oom", [*_py(oom)], 30, retry_on_oom=["retry=1"]),
        gpu_check.Step("e", "wrong number", _py("raise SystemExit(1)"), 30),
        gpu_check.Step("f1", "optional", _py("pass"), 10_000, optional=True),
    ]
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "e.json").write_text(
        json.dumps({"ok": False, "problem": "eval: 1.0 before, 2.0 after"})
    )
    summary = {"mode": "gpu", "started": "now", "budget_s": 60, "command": "x", "steps": []}
    gpu_check.run_steps(
        steps, tmp_path, dict(os.environ), summary, budget=60, start=gpu_check.time.monotonic()
    )
    got = {s["key"]: s for s in summary["steps"]}
    assert [s["status"] for s in summary["steps"]] == ["failed", "timeout", "ok", "ok", "failed", "skipped"]
    assert got["a"]["reason"] == "ValueError: boom: bad layout"
    assert got["b"]["reason"] == "killed after its time cap of 1 s" and got["b"]["seconds"] < 30
    assert got["c"]["result"] == {"ok": True, "x": 1}
    assert got["d"]["first_try"].startswith("CUDA out of memory; retried with retry=1")
    assert got["e"]["reason"] == "eval: 1.0 before, 2.0 after"
    assert "time budget" in got["f1"]["reason"] and summary["ok"] is False
    md_text = (tmp_path / "gpu_check.md").read_text()
    assert "**Result: FAILED: a, b, e**" in md_text and "**ValueError: boom: bad layout**" in md_text
    assert json.loads((tmp_path / "gpu_check.json").read_text())["steps"][1]["status"] == "timeout"


def test_gpu_check_sh_rejects_unknown_options():
    proc = subprocess.run(
        [str(REPO / "benchmarks" / "gpu_check.sh"), "--gpu"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "unknown option --gpu" in proc.stderr


# ---------------------------------------------------------------- the GPU configuration, checked here


def test_tiny_overrides_give_exactly_the_tiny_preset():
    cfg = load_config(BENCH, gpu_check.tiny_overrides()).config
    tiny = ModelConfig(**yaml.safe_load((REPO / "configs" / "model" / "tiny.yaml").read_text()))
    assert cfg.model == tiny


@pytest.mark.parametrize("step", ["a", "b", "c", "d", "f1", "f2"])
def test_every_gpu_step_config_is_valid_on_a_cuda_node(tmp_path, step):
    """A config error must show here, not after minutes of GPU time: each GPU step's overrides load and
    pass the layout rules of a CUDA machine without Transformer Engine (what the node has)."""
    steps = {s.key: s for s in gpu_check.make_steps("gpu", tmp_path, tmp_path, 989.0)}
    argv = steps[step].argv
    overrides = [a for a in argv if re.match(r"^[a-z_]+(\.[a-z_0-9]+)+=", a)]
    backend = "megatron" if "--backend" not in argv else argv[argv.index("--backend") + 1]
    if step in ("c", "d", "f1"):
        backend = "megatron"
    if step in ("b", "f2"):
        backend = "deepspeed"
    for extra in ([], steps[step].retry_on_oom):
        cfg = load_config(
            BENCH, [*overrides, *extra, f"parallel.backend={backend}", "parallel.dp=auto"]
        ).config
        assert cfg.train.precision == "bf16"
        layout = resolve_layout(cfg, 1, Runtime(cuda=True, te=False))
        assert layout.dp == 1
    if step == "a":
        assert (cfg.model.name, cfg.train.seq_length, cfg.parallel.distributed_optimizer) == (
            "1b",
            4096,
            True,
        )
        assert "--steps" in argv and argv[argv.index("--steps") + 1] == "20"


def test_gpu_caps_leave_room_in_the_device_time():
    """(a)-(e) fit the budget, and the budget plus start-up fits the ~480 s the run is given."""
    s = gpu_check.sizes("gpu")
    assert sum(s["caps"][k] for k in "abcde") <= s["budget"] <= 450


# ---------------------------------------------------------------- the wheelhouse


def _wheel(directory: Path, name: str, version: str, requires: list[str]) -> Path:
    """A minimal, installable wheel: one module, METADATA, WHEEL, RECORD."""
    dist = f"{name.replace('-', '_')}-{version}"
    path = directory / f"{dist}-py3-none-any.whl"
    meta = "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{name.replace('-', '_')}.py": f"VERSION = {version!r}\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{meta}",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}.dist-info/RECORD"] = "".join(f"{f},,\n" for f in files) + f"{dist}.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for f, text in files.items():
            zf.writestr(f, text)
    return path


def test_install_takes_only_what_this_python_lacks(tmp_path):
    house = tmp_path / "wheels"
    house.mkdir()
    have = md.version("packaging")
    _wheel(
        house, "gpucheck-top", "1.0", ["gpucheck-dep>=2", f"packaging>={have}", "gpucheck-gone; extra == 'x'"]
    )
    _wheel(house, "gpucheck-dep", "2.1", ["packaging>=9999"])  # the node's packaging is too old for it
    _wheel(house, "packaging", "9999.0", [])
    _wheel(house, "gpucheck-unused", "1.0", [])
    manifest = {
        "roots": ["gpucheck-top>=1", "gpucheck-absent>=1; python_version < '3'"],
        "host_roots": ["packaging>=1", "gpucheck-not-on-this-python>=1"],
    }
    (house / "MANIFEST.json").write_text(json.dumps(manifest))
    plan = gpu_check_wheels.select(house)
    assert plan["install"] == {
        "gpucheck-top": "gpucheck_top-1.0-py3-none-any.whl",
        "gpucheck-dep": "gpucheck_dep-2.1-py3-none-any.whl",
        "packaging": "packaging-9999.0-py3-none-any.whl",
    }
    assert plan["host"] == {}  # packaging was satisfied for the root, then needed newer by the dep
    assert plan["missing"] == ["gpucheck-not-on-this-python>=1 (this Python has none; not carried)"]

    target, report = tmp_path / "site", tmp_path / "wheels.json"
    assert gpu_check_wheels.install(house, target, dry_run=False, report=report) == 1  # one missing
    assert (target / "gpucheck_top.py").is_file() and (target / "gpucheck_dep.py").is_file()
    assert not (target / "gpucheck_unused.py").exists()
    assert json.loads(report.read_text())["install"] == plan["install"]


def test_roots_are_pyprojects_pins_for_python_312():
    roots = {canonicalize_name(r.name): r for r in gpu_check_wheels.roots()}
    assert set(roots) == {canonicalize_name(n) for n in gpu_check_wheels.CHECK_PATH}
    # The megatron-core the CPU tests run, although pyproject allows newer ones on 3.12.
    assert roots["megatron-core"].specifier.contains("0.16.1")
    assert not roots["megatron-core"].specifier.contains("0.17.0")
    assert roots["pydantic"].specifier.contains("2.10") and not roots["pydantic"].specifier.contains("3.0")


def test_built_wheelhouse_is_complete_and_small():
    """Checks `make gpu-wheels` output when it exists (it is built where an index is reachable)."""
    house = REPO / "build" / "gpu-wheels"
    if not (house / "MANIFEST.json").is_file():
        pytest.skip("no wheelhouse built (make gpu-wheels)")
    wheels = gpu_check_wheels.wheels(house)
    assert sum(p.stat().st_size for p, _, _ in wheels.values()) < gpu_check_wheels.LIMIT_BYTES
    assert {"megatron-core", "deepspeed", "pydantic", "pydantic-core"} <= set(wheels)
    assert wheels["megatron-core"][0].name.startswith("megatron_core-0.16.1-cp312-cp312-manylinux")
    assert wheels["deepspeed"][0].name.endswith("-py3-none-any.whl")
