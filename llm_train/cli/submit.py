"""`llm-train submit EXPERIMENT --cluster NAME [--dry-run] [flags] [key=value ...]`

Renders a readable sbatch script (slurm/templates/), saves it in the run dir and submits it with
sbatch; eval and burn-in jobs are Python-function jobs submitted through submitit with the same
profile settings. `--chain prep,pack,train,eval` submits one job per stage with afterok
dependencies. Everything is checked before anything is submitted.

  llm-train submit configs/experiments/demo-cpu.yaml --cluster local-slurm --nodes 2 --time 20
  llm-train submit exp.yaml --cluster juwels-booster --account myproj --dry-run
  llm-train submit exp.yaml --cluster juwels-booster --kind burn-in --nodes 16   # every node, once
  llm-train submit exp.yaml --cluster lumi-g --chain prep,pack,train,eval \\
      --prep-args "--input raw/*.jsonl.zst --output work/clean" --pack-args "--corpus work/clean ..."
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from llm_train import storage
from llm_train.config import load_config
from llm_train.config.compose import find_configs_root
from llm_train.config.loader import ResolvedConfig
from llm_train.errors import ConfigError, ConfigProblem
from llm_train.slurm import events
from llm_train.slurm.build import SubmitOptions, build_job
from llm_train.slurm.job import SUBMIT_KINDS, Job
from llm_train.slurm.render import render
from llm_train.slurm.sites import detect_site
from llm_train.slurm.submit import submit_job
from llm_train.utils.atomic import atomic_write_text

STAGES = ("prep", "tokenizer", "pack", "train", "eval")
# Data stages: one process on one node, arguments passed through from --<stage>-args.
DATA_STAGES = ("prep", "tokenizer", "pack")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llm-train submit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("experiment", help="experiment YAML")
    p.add_argument("overrides", nargs="*", metavar="key.path=value", help="config overrides")
    p.add_argument(
        "--cluster", help="cluster profile (configs/cluster/NAME.yaml); default: detected from the hostname"
    )
    p.add_argument("--kind", choices=SUBMIT_KINDS, default="train", help="job kind (default: train)")
    p.add_argument(
        "--chain", help=f"comma-separated stages from {','.join(STAGES)}, run with afterok dependencies"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the script(s); submit nothing, write nothing"
    )
    p.add_argument("--run-id", help="run dir name under <runs_dir>/<name>/ (default: a timestamp)")
    p.add_argument("--command", help="generic job: the command line to run")
    p.add_argument(
        "--prep-args", default="", help="arguments of `llm-train prep` in a chain ({run_dir} is replaced)"
    )
    p.add_argument(
        "--tokenizer-args",
        default="",
        help="arguments of `llm-train tokenizer` in a chain ({run_dir} is replaced)",
    )
    p.add_argument(
        "--pack-args", default="", help="arguments of `llm-train pack` in a chain ({run_dir} is replaced)"
    )
    p.add_argument(
        "--eval-args", default="{run_dir}", help="arguments of `llm-train eval` (default: the run dir)"
    )
    g = p.add_argument_group("Slurm resources (default: the cluster profile)")
    g.add_argument("-A", "--account")
    g.add_argument("-p", "--partition")
    g.add_argument("-q", "--qos")
    g.add_argument("--reservation")
    g.add_argument("-t", "--time", help="time limit, Slurm syntax (30, 1:00:00, 2-00:00:00)")
    g.add_argument("-N", "--nodes", type=int)
    g.add_argument("--gpus-per-node", type=int)
    g.add_argument("-c", "--cpus-per-task", type=int)
    g.add_argument("--mem")
    g.add_argument("-C", "--constraint")
    g.add_argument("--exclusive", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--mail-type", help="e.g. END,FAIL")
    g.add_argument("--mail-user")
    g.add_argument(
        "--sbatch",
        action="append",
        default=[],
        metavar="--OPTION=VALUE",
        help="extra #SBATCH line (repeatable)",
    )
    g.add_argument(
        "--no-requeue", action="store_true", help="do not requeue on the trainer's interrupted exit"
    )
    g.add_argument(
        "--segments",
        type=int,
        default=1,
        help="train as N afterany jobs instead of requeue (sites forbidding requeue)",
    )
    return p


@dataclass
class Plan:
    resolved: ResolvedConfig
    run_dir: Path
    jobs: list[Job]
    condition_after_train: str = "afterok"


def resolve(args: argparse.Namespace) -> ResolvedConfig:
    cluster = args.cluster
    if cluster is None:
        try:
            cluster = detect_site(find_configs_root(Path(args.experiment)))
        except ValueError as exc:
            raise ConfigError([ConfigProblem(None, "--cluster", f"{exc}; pass --cluster NAME")]) from None
    resolved = load_config(args.experiment, args.overrides, cluster=cluster)
    runs_dir = Path(resolved.config.runs_dir)
    if not runs_dir.is_absolute():
        # The job may start elsewhere: pin the run dir to where it is now.
        resolved = load_config(
            args.experiment, [*args.overrides, f"runs_dir={runs_dir.resolve()}"], cluster=cluster
        )
    # Scripts, and the logs Slurm writes with this process's umask, follow the run's policy.
    storage.apply(resolved.config.storage.share)
    return resolved


def launcher(resolved: ResolvedConfig) -> str:
    """This installation's `llm-train` (same filesystem on login and compute nodes); inside a
    container the image's own."""
    if resolved.config.cluster.software.container.runtime != "none":
        return "llm-train"
    candidate = Path(sys.executable).parent / "llm-train"
    return str(candidate) if candidate.exists() else "llm-train"


def options(args: argparse.Namespace, **overrides) -> SubmitOptions:
    """The user's resource flags; `overrides` win (data stages pin nodes=1, no GPUs)."""
    values = dict(
        account=args.account,
        partition=args.partition,
        qos=args.qos,
        reservation=args.reservation,
        time=args.time,
        nodes=args.nodes,
        gpus_per_node=args.gpus_per_node,
        cpus_per_task=args.cpus_per_task,
        mem=args.mem,
        constraint=args.constraint,
        exclusive=args.exclusive,
        mail_type=args.mail_type,
        mail_user=args.mail_user,
        sbatch=tuple(args.sbatch),
        no_requeue=args.no_requeue,
        segments=args.segments,
    )
    values.update(overrides)
    return SubmitOptions(**values)


def stage_job(stage: str, args, resolved: ResolvedConfig, run_dir: Path, exe: str) -> Job:
    def words(text: str) -> list[str]:
        return shlex.split(text.replace("{run_dir}", str(run_dir)))

    name = resolved.config.name
    if stage == "train":
        cmd = [exe, "train", str(run_dir / "config.yaml"), "--run-id", run_dir.name]
        return build_job(resolved, "train", cmd, run_dir, options(args))
    if stage == "eval":
        return build_job(
            resolved,
            "eval",
            [exe, "eval", *words(args.eval_args)],
            run_dir,
            options(args, job_name=f"{name}-eval"),
        )
    if stage in DATA_STAGES:
        stage_args = getattr(args, f"{stage}_args")
        if not stage_args:
            raise ConfigError(
                [ConfigProblem(None, f"--{stage}-args", f"the {stage} stage needs its arguments")]
            )
        # Data jobs are one process on one node; they get no GPUs and are not requeued.
        opts = options(args, job_name=f"{name}-{stage}", nodes=1, gpus_per_node=0)
        return build_job(resolved, stage, [exe, stage, *words(stage_args)], run_dir, opts)
    profile = resolved.config.cluster.name
    if stage == "doctor":
        return build_job(resolved, "doctor", [exe, "doctor", "--cluster", profile], run_dir, options(args))
    if stage == "burn-in":
        # `llm-train doctor --burn-in` once on every node; its verdicts go to the run dir.
        command = [exe, "doctor", "--burn-in", "--cluster", profile, "--run-dir", str(run_dir)]
        return build_job(resolved, "burn-in", command, run_dir, options(args))
    if not args.command:
        raise ConfigError([ConfigProblem(None, "--command", "a generic job needs --command")])
    return build_job(resolved, "generic", shlex.split(args.command), run_dir, options(args))


def make_plan(args: argparse.Namespace) -> Plan:
    resolved = resolve(args)
    cfg = resolved.config
    run_id = args.run_id or time.strftime("%Y%m%d-%H%M%S")
    run_dir = Path(cfg.runs_dir) / cfg.name / run_id
    exe = launcher(resolved)
    if args.chain:
        stages = [s.strip() for s in args.chain.split(",") if s.strip()]
        unknown = [s for s in stages if s not in STAGES]
        if unknown or not stages:
            raise ConfigError(
                [ConfigProblem(None, "--chain", f"expected stages from {', '.join(STAGES)}", args.chain)]
            )
        if stages != sorted(stages, key=STAGES.index) or len(set(stages)) != len(stages):
            raise ConfigError(
                [ConfigProblem(None, "--chain", f"stages run in the order {','.join(STAGES)}", args.chain)]
            )
    else:
        stages = [args.kind]
    if args.segments < 1:
        raise ConfigError([ConfigProblem(None, "--segments", "expected at least 1", args.segments)])
    jobs: list[Job] = []
    for stage in stages:
        job = stage_job(stage, args, resolved, run_dir, exe)
        jobs += [job] * (args.segments if stage == "train" else 1)
    return Plan(resolved, run_dir, jobs)


def prepare_run_dir(plan: Plan) -> None:
    """The resolved config the trainer reads, and a fresh requeue budget for this submission."""
    slurm_dir = plan.run_dir / "slurm"
    slurm_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(plan.run_dir / "config.yaml", plan.resolved.yaml)
    atomic_write_text(plan.run_dir / "config.sha256", plan.resolved.sha256 + "\n")
    for marker in ("DONE", "FAILED", "requeues", "stalls"):
        (slurm_dir / marker).unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    args = parser().parse_intermixed_args(argv)
    plan = make_plan(args)
    if args.dry_run:
        for i, job in enumerate(plan.jobs):
            if i:
                print(
                    f"\n# ---- next job (after{'any' if job.requeue_mode == 'chain' else 'ok'} the previous) ----\n"
                )
            print(render(job), end="")
        return 0
    prepare_run_dir(plan)
    handles = []
    previous: Job | None = None
    for job in plan.jobs:
        # afterany between train segments (each resumes from the checkpoint), afterok elsewhere.
        same_segment = (
            previous is not None and previous.kind == job.kind == "train" and job.requeue_mode == "chain"
        )
        dependency = None
        if handles:
            dependency = f"{'afterany' if same_segment else 'afterok'}:{handles[-1].job_id}"
        handles.append(submit_job(job, dependency))
        previous = job
    for h in handles:
        print(f"submitted {h.kind} job {h.job_id}: {h.script}")
    print(f"run dir: {plan.run_dir}\n  llm-train jobs {plan.run_dir}\n  llm-train logs {plan.run_dir}")
    if len(handles) > 1:
        events.record(plan.run_dir, "chain", job_ids=[h.job_id for h in handles])
    return 0
