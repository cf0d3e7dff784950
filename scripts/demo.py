"""`make demo`: the whole flow on the bundled sample corpus, one `llm-train` command per stage.

    prep → tokenizer → pack → train (2 CPU processes) → eval → export --to hf → eval report
    → report ai-act (the AI Act training-content summary of the run)

Each stage is a plain `llm-train` command, printed before it runs so that it can be copied.
Its output goes to <work>/demo/logs/<stage>.log (`--verbose` shows it instead); the demo shows a
progress bar per stage, a one-line summary read back from the stage's artefacts, the time of
every stage, and at the end where everything is and how to look at it.

`make demo-slurm` (`--slurm`) submits the same flow to the local Slurm cluster
(slurm/local-cluster/start.sh) as a job chain, the way it runs on JUWELS or LUMI with another
`--cluster`.

Smaller runs (the end-to-end test uses these):
    python scripts/demo.py --input data/sample/libreoffice-help-de.jsonl.gz ... \
        --vocab-size 2048 --set train.steps=30 --eval-args "--max-docs 4"
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from llm_train.run_dir import RunDir
from llm_train.slurm.handle import slurm_states

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "configs" / "experiments" / "demo-cpu.yaml"
# The stages `llm-train submit --chain` runs as Slurm jobs (export and report stay on the login node).
CHAIN = ("prep", "tokenizer", "pack", "train", "eval")
console = Console()


@dataclass
class Paths:
    work: Path  # <work>/demo
    runs: Path
    run_id: str

    @property
    def clean(self) -> Path:
        return self.work / "clean"

    @property
    def tokenizer(self) -> Path:
        return self.work / "tokenizer"

    @property
    def packed(self) -> Path:
        return self.work / "packed"

    @property
    def hf(self) -> Path:
        return self.work / "hf"

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    @property
    def run_dir(self) -> Path:
        return self.runs / "demo-cpu" / self.run_id

    @property
    def report(self) -> Path:
        return self.run_dir / "evals" / "report"

    @property
    def ai_act(self) -> Path:
        return self.run_dir / "ai-act"


@dataclass
class Stage:
    name: str
    argv: list[str]  # `llm-train <argv>`, locally; in a chain the same arguments go to `submit`
    needs: list[str] = field(default_factory=list)
    summary: Callable[[Paths], str] | None = None
    progress: Callable[[Paths], tuple[int, int, str] | None] | None = None


# ---- summaries: one line per stage, read back from what the stage wrote ----------------------


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def summarize_prep(p: Paths) -> str:
    totals = _read_json(p.clean / "stats.json")["totals"]
    langs = sorted(d.name for d in p.clean.iterdir() if (d / "train").is_dir())
    no_valid = [lang for lang in langs if not any((p.clean / lang / "validation").glob("*.jsonl*"))]
    text = (
        f"{totals['docs_in']:,} docs in → {totals['docs_out']:,} kept "
        f"({totals['bytes_in'] / 1e6:.1f} → {totals['bytes_out'] / 1e6:.1f} MB), {len(langs)} languages"
    )
    if no_valid:
        text += f" (no validation docs: {', '.join(no_valid)})"
    return text + f"; data card {p.clean / 'DATACARD.md'}"


def summarize_tokenizer(p: Paths) -> str:
    meta = _read_json(p.tokenizer / "llm_train_tokenizer.json")
    fert = _read_json(p.tokenizer / "fertility.json")
    bpt = [v["bytes_per_token"] for v in fert.values() if isinstance(v, dict) and "bytes_per_token" in v]
    mean = f", {sum(bpt) / len(bpt):.2f} bytes/token on average over {len(bpt)} languages" if bpt else ""
    return f"vocab {meta['vocab_size']:,}{mean}"


def summarize_pack(p: Paths) -> str:
    mix = yaml.safe_load((p.packed / "mixture.yaml").read_text())
    tokens = sum(d["tokens"] for d in mix["datasets"])
    return (
        f"{len(mix['datasets'])} datasets, {tokens:,} tokens ({mix.get('dtype', '?')}), mixture.yaml written"
    )


def summarize_train(p: Paths) -> str:
    run = RunDir(p.run_dir)
    losses = run.train_losses()
    latest, ready = run.latest_step(), len(run.ready_steps())
    (s0, l0), (s1, l1) = losses[0], losses[-1]
    trend = "falls" if l1 < l0 else "DOES NOT FALL"
    return f"loss {l0:.2f} (step {s0}) → {l1:.2f} (step {s1}): {trend}; {ready} ready checkpoints, latest step {latest}"


def train_progress(p: Paths) -> tuple[int, int, str] | None:
    run = RunDir(p.run_dir)
    losses = run.train_losses()
    config = run.config_file
    if not losses or not config.exists():
        return None
    steps = yaml.safe_load(config.read_text())["train"]["steps"]
    step, loss = losses[-1]
    return step, steps, f"loss {loss:.3f}"


def summarize_eval(p: Paths) -> str:
    lines = (p.run_dir / "evals" / "results.jsonl").read_text().splitlines()
    rec = [r for r in map(json.loads, lines) if r.get("kind") == "result"][-1]
    bpb = rec["bpb"]
    text = f"step {rec['step']}: BPB macro {bpb['macro_bpb']:.3f} over {len(bpb['languages'])} languages"
    for task, per_lang in (rec.get("task_results") or {}).items():
        n = sum(v["n"] for v in per_lang.values())
        acc = sum(v["acc"] * v["n"] for v in per_lang.values()) / max(n, 1)
        chance = next(iter(per_lang.values()), {}).get("chance")
        text += f"; {task} acc {acc:.3f} (n={n}" + (f", chance {chance:.2f})" if chance else ")")
    return text


def summarize_export(p: Paths) -> str:
    files = sorted(f.name for f in p.hf.iterdir())
    size = sum(f.stat().st_size for f in p.hf.iterdir() if f.is_file())
    return f"{p.hf}: {', '.join(files)} ({size / 1e6:.1f} MB)"


def summarize_report(p: Paths) -> str:
    pngs = sorted(f.name for f in p.report.glob("*.png"))
    return f"{p.report / 'report.md'} with {len(pngs)} plots: {', '.join(pngs)}"


def summarize_ai_act(p: Paths) -> str:
    s = _read_json(p.ai_act / "summary.json")
    size = s["general"]["training_data_size"]["text"]
    sources = sum(len(part.get("datasets", [])) for part in s["sources"].values() if isinstance(part, dict))
    todo = f"; {len(s['missing'])} field(s) left to the provider" if s["missing"] else ""
    return (
        f"{p.ai_act / 'summary.md'}: {size['tokens']:,} tokens ({size['range']}), "
        f"{len(s['general']['languages'])} languages, {sources} sources{todo}"
    )


# ---- the flow ----------------------------------------------------------------------------------


def stages(p: Paths, args: argparse.Namespace) -> list[Stage]:
    inputs = input_globs(args)
    pack_extra = ["--budget-tokens", str(args.budget_tokens)] if args.budget_tokens else []
    return [
        Stage(
            "prep",
            ["prep", "--input", *inputs, "--output", str(p.clean), "--config", args.prep_config]
            + ["--workers", str(args.workers), "--no-progress", *args.prep_set],
            summary=summarize_prep,
        ),
        Stage(
            "tokenizer",
            ["tokenizer", "--corpus", str(p.clean), "--output", str(p.tokenizer)]
            + ["--vocab-size", str(args.vocab_size)],
            ["prep"],
            summary=summarize_tokenizer,
        ),
        Stage(
            "pack",
            ["pack", "--corpus", str(p.clean), "--tokenizer", str(p.tokenizer), "--output", str(p.packed)]
            + ["--mixture", str(REPO / "configs/data/mixtures/demo.yaml"), "--workers", str(args.workers)]
            + ["--train-split", train_split(args)]
            + pack_extra,
            ["tokenizer"],
            summary=summarize_pack,
        ),
        Stage(
            "train",
            [
                "train",
                str(EXPERIMENT),
                "--run-id",
                p.run_id,
                "--nproc",
                str(args.nproc),
                *train_overrides(args),
            ],
            ["pack"],
            summary=summarize_train,
            progress=train_progress,
        ),
        Stage(
            "eval",
            ["eval", "run", str(p.run_dir), *shlex.split(args.eval_args)],
            ["train"],
            summary=summarize_eval,
        ),
        Stage(
            "export", ["export", "--to", "hf", str(p.run_dir), str(p.hf)], ["train"], summary=summarize_export
        ),
        Stage("report", ["eval", "report", str(p.run_dir)], ["eval"], summary=summarize_report),
        Stage(
            "ai-act",
            ["report", "ai-act", str(p.run_dir), "--output", str(p.ai_act), "--model-name", "llm-train-demo"]
            + ["--info", str(REPO / "configs" / "aiact" / "demo-info.yaml")],
            ["train"],
            summary=summarize_ai_act,
        ),
    ]


def input_globs(args: argparse.Namespace) -> list[str]:
    """Absolute input patterns; `llm-train prep` expands them itself (short commands to copy)."""
    missing = [pattern for pattern in args.input if not glob.glob(pattern)]
    if missing:
        raise SystemExit(f"demo: no input files match {', '.join(missing)}")
    return [str(Path(pattern).absolute()) for pattern in args.input]


def train_overrides(args: argparse.Namespace) -> list[str]:
    out = list(args.set)
    if args.vocab_size != 8192 and not any(o.startswith("model.vocab_size=") for o in out):
        out.append(f"model.vocab_size={args.vocab_size}")  # configs/model/tiny.yaml follows the tokenizer
    return out


def train_split(args: argparse.Namespace) -> str:
    """The data.split the train stage will use (defaults and --set overrides resolved), so pack
    checks the packs against it."""
    from llm_train.config.loader import load_config

    return load_config(EXPERIMENT, train_overrides(args)).config.data.split


def last_line(log: Path) -> str:
    try:
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - 4096))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in tail.replace("\r", "\n").splitlines() if ln.strip()]
    return lines[-1][-90:] if lines else ""


def run_stage(stage: Stage, p: Paths, cmd: list[str], env: dict, verbose: bool) -> int:
    if verbose:
        return subprocess.call(cmd, env=env, cwd=REPO)
    log = p.logs / f"{stage.name}.log"
    with (
        log.open("w") as out,
        Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[stage]:<9}"),
            BarColumn(bar_width=30),
            TextColumn("{task.completed}/{task.total}" if stage.progress else ""),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[detail]}"),
            console=console,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task(stage.name, total=None, stage=stage.name, detail="starting")
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        try:
            while proc.poll() is None:
                time.sleep(0.5)
                state = stage.progress(p) if stage.progress else None
                if state:
                    done, total, detail = state
                    bar.update(task, completed=done, total=total, detail=detail)
                else:
                    bar.update(task, detail=last_line(log))
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
            raise
    if proc.returncode != 0:
        console.print(f"[red]{stage.name} failed (exit {proc.returncode}); last lines of {log}:")
        lines = log.read_text(errors="replace").splitlines()
        console.print("\n".join(lines[-25:]), markup=False, highlight=False)
    return proc.returncode


def remove_previous_outputs(p: Paths) -> None:
    # The demo's own outputs only: a rerun (local or on Slurm) starts fresh instead of resuming
    # a finished run and skipping every stage whose done markers exist.
    for d in (p.work, p.run_dir):
        if d.exists():
            console.print(f"[dim]removing the previous demo output {d}")
            shutil.rmtree(d)


def run_local(p: Paths, args: argparse.Namespace, env: dict, llm_train: list[str]) -> int:
    p.logs.mkdir(parents=True, exist_ok=True)
    console.rule("[bold]llm-train demo")
    console.print(f"work: {p.work}   runs: {p.runs}   logs: {p.logs}")

    results: dict[str, tuple[str, float, str]] = {}
    start_all = time.monotonic()
    for stage in stages(p, args):
        missing = [n for n in stage.needs if results.get(n, ("",))[0] != "ok"]
        if missing:
            results[stage.name] = (f"skipped (needs {', '.join(missing)})", 0.0, "")
            continue
        console.print(
            f"\n[bold]{stage.name}[/bold]  [cyan]$ llm-train {escape(shlex.join(stage.argv))}", soft_wrap=True
        )
        start = time.monotonic()
        code = run_stage(stage, p, [*llm_train, *stage.argv], env, args.verbose)
        elapsed = time.monotonic() - start
        if code == 0:
            try:
                summary = stage.summary(p) if stage.summary else ""
            except Exception as exc:  # a summary must never hide that the stage itself worked
                summary = f"(no summary: {type(exc).__name__}: {exc})"
            results[stage.name] = ("ok", elapsed, summary)
            console.print(f"  [green]✓[/green] {elapsed:5.1f} s  {escape(summary)}", soft_wrap=True)
        else:
            results[stage.name] = (f"failed (exit {code})", elapsed, str(p.logs / f"{stage.name}.log"))
    total = time.monotonic() - start_all
    print_summary(p, results, total)
    return 1 if any(s != "ok" for s, _, _ in results.values()) else 0


def aim_repo(p: Paths) -> Path:
    info = p.run_dir / "aim.json"
    if info.exists():
        return Path(_read_json(info)["repo"])
    return p.runs / "aim"


def print_summary(p: Paths, results: dict[str, tuple[str, float, str]], total: float) -> None:
    table = Table(title="demo summary")
    table.add_column("stage")
    table.add_column("status")
    table.add_column("time", justify="right")
    for name, (status, elapsed, _) in results.items():
        style = "green" if status == "ok" else "red" if status.startswith("failed") else "yellow"
        table.add_row(name, f"[{style}]{status}", f"{elapsed:.1f} s")
    table.add_row("[bold]total", "", f"[bold]{total:.0f} s")
    console.print()
    console.print(table)
    where = [
        ("clean corpus + data card", p.clean),
        ("tokenizer", p.tokenizer),
        ("packed data + mixture.yaml", p.packed),
        ("run dir (config, checkpoints, metrics.jsonl)", p.run_dir),
        ("eval results", p.run_dir / "evals" / "results.jsonl"),
        ("HuggingFace model", p.hf),
        ("report", p.report / "report.md"),
        ("AI Act training-content summary", p.ai_act / "summary.md"),
        ("stage logs", p.logs),
    ]
    console.print("\n[bold]where everything is")
    for label, path in where:
        console.print(f"  {label:<46} {path}", soft_wrap=True, highlight=False)
    console.print("\n[bold]look at it")
    console.print(
        f"  llm-train track ui {aim_repo(p)}    # private, read-only; prints the ssh -L line for a laptop",
        soft_wrap=True,
    )
    console.print(f"  xdg-open {p.report / 'report.md'}    # or any Markdown viewer", soft_wrap=True)
    ok = sum(1 for s, _, _ in results.values() if s == "ok")
    console.print(f"\ndemo: {ok}/{len(results)} stages ok in {total:.0f} s")


# ---- the same flow as a Slurm job chain --------------------------------------------------------


def slurm_env(env: dict) -> dict:
    """Start the local cluster (idempotent) and add the variables of its env.sh to ``env``."""
    cluster = REPO / "slurm" / "local-cluster"
    console.print(f"[cyan]$ bash {cluster.relative_to(REPO)}/start.sh")
    subprocess.run(["bash", str(cluster / "start.sh")], check=True)
    state = Path(os.environ.get("LLM_TRAIN_SLURM_STATE", REPO / ".slurm-state"))
    out = subprocess.run(
        ["bash", "-c", '. "$1" && env -0', "bash", str(state / "env.sh")],
        check=True,
        capture_output=True,
        env=env,
    ).stdout.decode()
    return {**env, **dict(item.split("=", 1) for item in out.split("\0") if "=" in item)}


def submit(llm_train: list[str], argv: list[str], env: dict) -> list[str]:
    """Run one `llm-train submit`, echo it, return the job ids it printed."""
    console.print(f"[cyan]$ llm-train {escape(shlex.join(argv))}", soft_wrap=True)
    proc = subprocess.run([*llm_train, *argv], env=env, cwd=REPO, capture_output=True, text=True)
    console.print(proc.stdout.rstrip(), markup=False, highlight=False)
    if proc.returncode != 0:
        raise RuntimeError(f"llm-train submit failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return [line.split()[3].rstrip(":") for line in proc.stdout.splitlines() if line.startswith("submitted ")]


def wait_jobs(ids: list[str]) -> dict[str, str]:
    """Poll the chain through the Slurm layer until every job ended. A failed stage's dependents
    end by themselves: `submit` gives them --kill-on-invalid-dep."""
    found = {j: ("PENDING", False) for j in ids}
    with console.status("waiting for the jobs") as status:
        while not all(ended for _, ended in found.values()):
            time.sleep(5)
            found = slurm_states(ids)
            status.update(f"waiting: {' '.join(f'{j}={s}' for j, (s, _) in found.items())}")
    return {j: s for j, (s, _) in found.items()}


def chain_argv(p: Paths, args: argparse.Namespace) -> list[str]:
    """`submit ... --chain`, its stages' arguments taken from the same table the local run uses."""
    table = {stage.name: stage.argv for stage in stages(p, args)}
    argv = ["submit", str(EXPERIMENT), "--cluster", "local-slurm", "--run-id", p.run_id]
    argv += [a for a in table["train"][2:] if "=" in a and not a.startswith("-")]  # the overrides
    argv += ["--chain", ",".join(CHAIN)]
    for name in ("prep", "tokenizer", "pack"):
        argv += [f"--{name}-args", shlex.join(table[name][1:])]
    return [*argv, "--eval-args", shlex.join(table["eval"][1:])]


def run_slurm(p: Paths, args: argparse.Namespace, env: dict, llm_train: list[str]) -> int:
    """The flow as jobs with afterok dependencies. On a real site only --cluster changes
    (e.g. --cluster juwels-booster --account myproj): the commands printed here are the ones to run."""
    console.rule("[bold]llm-train demo on Slurm (local cluster)")
    env = slurm_env(env)
    os.environ.update(env)  # the Slurm layer's sacct/squeue calls need the cluster's SLURM_CONF
    p.logs.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    ids = submit(llm_train, chain_argv(p, args), env)
    states = wait_jobs(ids)
    table = Table(title="Slurm chain")
    table.add_column("job")
    table.add_column("state")
    for j, s in states.items():
        table.add_row(j, s)
    console.print(table)
    console.print(f"chain finished in {time.monotonic() - start:.0f} s; run dir {p.run_dir}")
    console.print("on a real site: the same commands with --cluster juwels-booster (or lumi-g) --account ...")
    return 0 if all(s == "COMPLETED" for s in states.values()) else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--work", default=os.environ.get("LLM_TRAIN_WORK", "work"), help="outputs go to WORK/demo"
    )
    parser.add_argument(
        "--runs", default=os.environ.get("LLM_TRAIN_RUNS", "runs"), help="runs dir (and Aim repo)"
    )
    parser.add_argument("--run-id", default="demo")
    parser.add_argument("--input", nargs="+", default=[str(REPO / "data" / "sample" / "*.jsonl.gz")])
    parser.add_argument("--prep-config", default=str(REPO / "configs" / "data" / "prep-demo.yaml"))
    parser.add_argument("--prep-set", action="append", default=[], metavar="KEY=VALUE", help="prep override")
    parser.add_argument("--vocab-size", type=int, default=8192)
    parser.add_argument("--budget-tokens", type=int, default=0, help="mixture budget (default: the spec's)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--nproc", type=int, default=2, help="training processes")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="training override")
    parser.add_argument("--eval-args", default="", help="extra arguments of `llm-train eval run`")
    parser.add_argument("--keep", action="store_true", help="do not remove an earlier demo's outputs first")
    parser.add_argument("--verbose", action="store_true", help="show every stage's own output")
    parser.add_argument("--slurm", action="store_true", help="submit the flow as a job chain to local Slurm")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    p = Paths(Path(args.work).resolve() / "demo", Path(args.runs).resolve(), args.run_id)
    env = {
        **os.environ,
        "LLM_TRAIN_WORK": str(p.work.parent),
        "LLM_TRAIN_RUNS": str(p.runs),
        # Everything the flow needs is local: never reach for the Hub.
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    llm_train = [sys.executable, "-m", "llm_train.cli.main"]
    if not args.keep:
        remove_previous_outputs(p)
    try:
        if args.slurm:
            return run_slurm(p, args, env, llm_train)
        return run_local(p, args, env, llm_train)
    except KeyboardInterrupt:
        console.print("[red]interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
