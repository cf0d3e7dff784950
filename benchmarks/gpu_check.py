"""The GPU check: steps (a)-(f), each in its own process with its own time cap; one JSON and one
Markdown summary. Started by benchmarks/gpu_check.sh, which prepares the Python environment.

(a) megatron-core throughput of the 1b preset (bf16, seq 4096, distributed optimizer): tokens/s,
    TFLOP/s and MFU per GPU             benchmarks/train_step.py --backend megatron
(b) the same for DeepSpeed ZeRO-1 bf16  benchmarks/train_step.py --backend deepspeed --no-plain
(c) async dist_checkpointing save, load, equal losses     gpu_check_steps.py checkpoint
(d) HF export, logits in fp32 and bf16 against megatron   gpu_check_steps.py export
(e) peak memory of (a) and (b) against `llm-train plan`   gpu_check_steps.py memory
(f) only while the budget lasts: a profile of the megatron step, torch.compile of the DeepSpeed step

A failed or timed-out step is recorded with its reason and the next step runs; the summary is
rewritten after every step, so a run killed from outside still leaves what it measured.
The CPU dry run (`--mode cpu`) runs the same steps with the tiny preset on gloo.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from train_step import write_json  # noqa: E402

BENCH_CONFIG = REPO / "configs" / "experiments" / "bench-1b-h100.yaml"
OOM = re.compile(r"CUDA out of memory|OutOfMemoryError")
ERROR_LINE = re.compile(r"^\s*(\w+\.)*\w*(Error|Exception|Interrupt)\b.*|^(error|FAIL)\b.*", re.IGNORECASE)


@dataclass
class Step:
    key: str
    title: str
    argv: list[str]
    cap_s: float
    optional: bool = False  # (f): started only when the budget still covers its cap
    retry_on_oom: list[str] = field(default_factory=list)  # overrides for one retry after a CUDA OOM


def tiny_overrides() -> list[str]:
    """The tiny preset over the 1b one (tiny names every key 1b sets), at a sequence it supports."""
    import yaml  # not at the top: the orchestrator itself needs only the standard library

    tiny = yaml.safe_load((REPO / "configs" / "model" / "tiny.yaml").read_text())
    return [f"model.{k}={v}" for k, v in tiny.items()] + ["train.seq_length=64"]


def sizes(mode: str) -> dict:
    """Everything that differs between the GPU run and the CPU dry run."""
    if mode == "gpu":
        small = ["model.num_layers=2", "train.seq_length=1024", "train.micro_batch_size=2"]
        return {
            "label": "1b, bf16, seq 4096",
            "throughput": [],
            "small": [*small, "train.global_batch_size=4"],
            "steps": 20,
            "warmup": 3,
            "caps": {"a": 140, "b": 100, "c": 75, "d": 90, "e": 30, "f1": 70, "f2": 150},
            # One retry after a CUDA OOM: megatron recomputes core attention, DeepSpeed whole layers.
            "oom_retry": {
                "megatron": ["parallel.recompute=selective"],
                "deepspeed": ["parallel.recompute=full"],
            },
            "budget": 440,
        }
    tiny = [*tiny_overrides(), "train.micro_batch_size=1", "train.global_batch_size=2"]
    # The megatron backend trains in fp32 on CPU (its mixed-precision optimizer is CUDA-only).
    return {
        "label": "tiny preset, seq 64",
        "throughput": [*tiny, "train.precision=fp32"],
        "small": [*tiny, "train.precision=fp32"],
        "deepspeed": tiny,  # bf16, as on the GPU
        "steps": 2,
        "warmup": 1,
        "caps": {"a": 150, "b": 150, "c": 150, "d": 180, "e": 90, "f1": 120, "f2": 150},
        "oom_retry": {"megatron": [], "deepspeed": []},
        "budget": 570,
    }


def make_steps(mode: str, out: Path, work: Path, peak: float | None) -> list[Step]:
    s = sizes(mode)
    py, steps_dir, caps = sys.executable, out / "steps", s["caps"]
    cfg = str(BENCH_CONFIG)
    peak_arg = ["--peak-tflops", str(peak)] if peak else []
    run = [*peak_arg, "--steps", str(s["steps"]), "--warmup", str(s["warmup"]), "--config", cfg]
    train = [py, str(HERE / "train_step.py")]
    tool = [py, str(HERE / "gpu_check_steps.py")]

    def helper(name: str, key: str, *extra: str) -> list[str]:
        return [*tool, name, "--json", str(steps_dir / f"{key}.json"), "--work", str(work / key), *extra]

    ds = ["parallel.backend=deepspeed", "parallel.zero_stage=1", *s.get("deepspeed", s["throughput"])]
    mg_json, ds_json = steps_dir / "a.json", steps_dir / "b.json"
    return [
        Step(
            "a",
            f"megatron-core throughput ({s['label']}, distributed optimizer)",
            [*train, "--backend", "megatron", *run, "--json", str(mg_json), *s["throughput"]],
            caps["a"],
            retry_on_oom=s["oom_retry"]["megatron"],
        ),
        Step(
            "b",
            f"DeepSpeed ZeRO-1 throughput ({s['label']})",
            [*train, "--backend", "deepspeed", "--no-plain", *run, "--json", str(ds_json), *ds],
            caps["b"],
            retry_on_oom=s["oom_retry"]["deepspeed"],
        ),
        Step(
            "c",
            "async dist_checkpointing save -> load: equal losses",
            helper("checkpoint", "c", "--config", cfg, *s["small"]),
            caps["c"],
        ),
        Step(
            "d",
            "llm-train export --to hf: logits vs megatron (fp32, bf16)",
            helper("export", "d", "--config", cfg, *s["small"]),
            caps["d"],
        ),
        Step("e", "peak memory of (a), (b) vs llm-train plan", helper("memory", "e"), caps["e"]),
        Step(
            "f1",
            "profile of the megatron step (top kernels, communication, gaps)",
            helper("profile", "f1", "--config", cfg, "--steps", "3", *s["throughput"]),
            caps["f1"],
            optional=True,
        ),
        Step(
            "f2",
            "DeepSpeed step with torch.compile",
            helper("compile", "f2", *run, *ds),
            caps["f2"],
            optional=True,
        ),
    ]


def failure_reason(log_text: str) -> str:
    """The last exception or error line of a step's log (import-time profiling lines skipped)."""
    lines = [ln.strip() for ln in log_text.splitlines() if ln.strip() and not ln.startswith("import time:")]
    for line in reversed(lines):
        if ERROR_LINE.match(line):
            return line[:400]
    return lines[-1][:400] if lines else "no output"


def run_process(argv: list[str], cap_s: float, log: Path, env: dict) -> tuple[str, int | None, float]:
    """Run in its own process group (megatron's checkpoint writers, DeepSpeed helpers die with it)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with log.open("a") as fh:
        fh.write("$ " + " ".join(argv) + "\n")
        fh.flush()
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            rc = proc.wait(timeout=cap_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return "timeout", None, time.monotonic() - t0
    return ("ok" if rc == 0 else "failed"), rc, time.monotonic() - t0


def _kill_group(proc: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def run_step(step: Step, out: Path, env: dict) -> dict:
    log = out / "logs" / f"{step.key}.log"
    status, rc, seconds = run_process(step.argv, step.cap_s, log, env)
    result: dict = {
        "key": step.key,
        "title": step.title,
        "cap_s": step.cap_s,
        "log": str(log.relative_to(out)),
    }
    if status == "failed" and step.retry_on_oom and OOM.search(log.read_text(errors="replace")):
        result["first_try"] = f"CUDA out of memory; retried with {' '.join(step.retry_on_oom)}"
        status, rc, more = run_process([*step.argv, *step.retry_on_oom], step.cap_s, log, env)
        seconds += more
    result.update(status=status, exit_code=rc, seconds=round(seconds, 1))
    if status == "timeout":
        result["reason"] = f"killed after its time cap of {step.cap_s:.0f} s"
    report = out / "steps" / f"{step.key}.json"
    if report.is_file():
        result["result"] = json.loads(report.read_text())
    if status == "failed":
        # A step that ran to the end but found a wrong number says which; else the error it died of.
        problem = result.get("result", {}).get("problem")
        result["reason"] = problem or failure_reason(log.read_text(errors="replace"))
    return result


def write_summary(out: Path, summary: dict) -> None:
    from gpu_check_report import render_markdown

    write_json(out / "gpu_check.json", summary)
    md = out / "gpu_check.md"
    tmp = md.with_name(".gpu_check.md.tmp")
    tmp.write_text(render_markdown(summary))
    tmp.replace(md)


def run_steps(steps: list[Step], out: Path, env: dict, summary: dict, budget: float, start: float) -> None:
    """Each step in turn; none stops the next. (f) steps start only if their cap fits the budget."""
    for step in steps:
        left = budget - (time.monotonic() - start)
        if step.optional and left < step.cap_s:
            reason = f"time budget: {left:.0f} s left of {budget:.0f} s, the step's cap is {step.cap_s:.0f} s"
            summary["steps"].append(
                {"key": step.key, "title": step.title, "status": "skipped", "reason": reason}
            )
            continue
        print(f"[{step.key}] {step.title} (cap {step.cap_s:.0f} s) ...", flush=True)
        result = run_step(step, out, env)
        summary["steps"].append(result)
        why = f": {result['reason']}" if result.get("reason") else ""
        print(f"[{step.key}] {result['status']} in {result['seconds']} s{why}", flush=True)
        summary["elapsed_s"] = round(time.monotonic() - start, 1)
        write_summary(out, summary)
    required = [s for s in summary["steps"] if not s["key"].startswith("f")]
    summary["ok"] = bool(required) and all(s["status"] == "ok" for s in required)
    summary["elapsed_s"] = round(time.monotonic() - start, 1)
    write_summary(out, summary)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=["gpu", "cpu"], required=True, help="cpu: the dry run")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True, help="scratch (checkpoints, exports)")
    p.add_argument("--budget", type=float, help="seconds for all steps; (f) only starts if its cap fits")
    p.add_argument("--only", help="comma-separated step keys to run (e.g. to rerun a failed one)")
    args = p.parse_args(argv)
    start = time.monotonic()
    budget = args.budget or sizes(args.mode)["budget"]
    out = args.out
    (out / "steps").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    command = ["benchmarks/gpu_check.sh", *(["--cpu-dry-run"] if args.mode == "cpu" else [])]
    summary: dict = {"mode": args.mode, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "budget_s": budget}
    summary.update(command=" ".join(command), steps=[])
    wheels = out / "steps" / "wheels.json"
    if wheels.is_file():
        summary["wheelhouse"] = json.loads(wheels.read_text())
    env_argv = [
        sys.executable,
        str(HERE / "gpu_check_steps.py"),
        "env",
        "--json",
        str(out / "steps" / "env.json"),
    ]
    summary["env"] = run_step(Step("env", "environment", env_argv, 90), out, env)
    info = summary["env"].get("result", {})
    steps = make_steps(args.mode, out, args.work, info.get("peak_bf16_tflops"))
    if args.only:
        steps = [s for s in steps if s.key in set(args.only.split(","))]
    if args.mode == "gpu" and not info.get("cuda_available"):
        reason = summary["env"].get("reason") or "torch sees no CUDA device (on a CPU machine: --cpu-dry-run)"
        summary["steps"] = [
            {"key": s.key, "title": s.title, "status": "skipped", "reason": reason} for s in steps
        ]
        steps = []
    run_steps(steps, out, env, summary, budget, start)
    # The Markdown last: a caller that keeps only the tail of the output still sees it.
    print(json.dumps(summary, indent=2, default=str))
    print((out / "gpu_check.md").read_text())
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
