"""sbatch text of every job from one pure function: `render(job) -> str`.

Script jobs: the header, the software block and the launch line are built here; the rest of each
script is a readable template in slurm/templates/ (`train.sbatch`, `command.sbatch`) with `{{name}}`
placeholders (bash keeps its own `${...}`). Function jobs: submitit's own pure sbatch function,
fed with the same header values and the same software lines (`functions.sbatch_text`). Same Job
in, same text out: the snapshot tests compare against saved scripts.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from llm_train.launch.dist_env import SLURM_PORT_BASE, SLURM_PORT_SPAN
from llm_train.slurm.job import Job, Resources, Software
from llm_train.trainer.exit_codes import INTERRUPTED  # "checkpointed, requeue me"

TEMPLATES_DIR = Path(
    os.environ.get("LLM_TRAIN_SLURM_TEMPLATES", Path(__file__).resolve().parents[2] / "slurm" / "templates")
)
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


def render(job: Job) -> str:
    if job.spec.launch == "function":
        from llm_train.slurm.functions import sbatch_text

        return sbatch_text(job)
    values = {
        "kind": job.kind,
        "header": "\n".join(f"#SBATCH {d}" for d in directives(job)),
        "description": job.description or f"llm-train {job.kind} job {job.name}",
        "profile": job.profile,
        "run_dir": shlex.quote(job.run_dir),
        "software": software_block(job.software),
        "launch": launch_line(job),
        "requeue_mode": job.requeue_mode,
        "max_requeues": str(job.max_requeues),
        "interrupted": str(INTERRUPTED),
        "notes": "".join(f"# {line}\n" for line in job.notes),
        "port_base": str(SLURM_PORT_BASE),
        "port_span": str(SLURM_PORT_SPAN),
        "preflight": preflight_block(job),
    }
    return fill((TEMPLATES_DIR / f"{job.spec.template}.sbatch").read_text(encoding="utf-8"), values)


def preflight_block(job: Job) -> str:
    if not job.preflight:
        return "# No node burn-in before training (cluster.health.preflight: false)."
    values = {
        # pyxis starts the container through srun's own options
        "burn_in": " ".join(
            [
                *(o for o in srun_options(job) if not o.startswith("--kill-on-bad-exit")),
                shlex.join([*container_prefix(job.software), *job.preflight]),
            ]
        ),
        "tasks_per_node": str(job.resources.ntasks_per_node),
    }
    return fill((TEMPLATES_DIR / "train-preflight.sbatch").read_text(encoding="utf-8"), values).rstrip("\n")


def fill(template: str, values: dict[str, str]) -> str:
    missing = sorted(set(_PLACEHOLDER.findall(template)) - set(values))
    if missing:
        raise KeyError(f"template placeholders without a value: {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def directives(job: Job) -> list[str]:
    """The #SBATCH options, in a fixed order a reader can scan."""
    r: Resources = job.resources
    out = [f"--job-name={job.name}", f"--nodes={r.nodes}", f"--ntasks-per-node={r.ntasks_per_node}"]
    if r.cpus_per_task:
        out.append(f"--cpus-per-task={r.cpus_per_task}")
    if r.gpus_per_node:
        out.append(
            f"--gres={r.gres.format(n=r.gpus_per_node)}" if r.gres else f"--gpus-per-node={r.gpus_per_node}"
        )
    optional = (
        ("mem", r.mem),
        ("time", r.time),
        ("partition", r.partition),
        ("account", r.account),
        ("qos", r.qos),
        ("reservation", r.reservation),
        ("constraint", r.constraint),
        ("array", job.array.spec if job.array else None),
        ("mail-type", r.mail_type),
        ("mail-user", r.mail_user),
    )
    out += [f"--{name}={value}" for name, value in optional if value]
    if r.exclusive:
        out.append("--exclusive")
    log = f"{job.run_dir}/slurm/%x-%A_%a.out" if job.array else f"{job.run_dir}/slurm/%x-%j.out"
    out += [f"--output={log}", "--open-mode=append", f"--chdir={job.workdir}"]
    if job.kind == "train" and job.signal_lead_s:
        out.append(f"--signal=B:USR1@{job.signal_lead_s}")
    out.append("--requeue" if job.requeue_mode == "self" else "--no-requeue")
    out += list(r.extra)
    return out


def software_lines(sw: Software) -> list[str]:
    """Modules, the profile's setup lines and exports: every job's environment, in this order."""
    lines: list[str] = []
    if sw.modules:
        lines += ["module purge", *(f"module load {m}" for m in sw.modules)]
    lines += list(sw.setup)
    lines += [f"export {name}={value}" for name, value in sw.env]
    return lines


def software_block(sw: Software) -> str:
    return "\n".join(software_lines(sw)) or ": # no modules or setup in this profile"


def container_prefix(sw: Software) -> list[str]:
    """Words that run the command inside the profile's container (inside each srun task)."""
    c = sw.container
    if c.runtime in ("apptainer", "singularity"):
        binds = [f"--bind={','.join(c.binds)}"] if c.binds else []
        return [c.runtime, "exec", *c.flags, *binds, str(c.image)]
    return []


def srun_options(job: Job) -> list[str]:
    c = job.software.container
    opts = ["--kill-on-bad-exit=1"]
    if c.runtime == "enroot":  # pyxis: srun itself starts the container
        opts.append(f"--container-image={c.image}")
        if c.binds:
            opts.append(f"--container-mounts={','.join(c.binds)}")
        opts += list(c.flags)
    return opts


def launch_line(job: Job) -> str:
    r = job.resources
    command = [*container_prefix(job.software), *job.command]
    if job.kind != "train":
        return shlex.join(command)
    if job.rendezvous == "c10d":
        # One torchrun per node; it starts the per-GPU ranks and sets RANK/LOCAL_RANK/WORLD_SIZE.
        torchrun = [
            "torchrun",
            "--nnodes=$SLURM_JOB_NUM_NODES",
            f"--nproc-per-node={r.ntasks_per_node}",
            "--rdzv-backend=c10d",
            '--rdzv-endpoint="$MASTER_ADDR:$MASTER_PORT"',
            "--rdzv-id=$SLURM_JOB_ID",
        ]
        inner = [
            shlex.join(container_prefix(job.software)),
            *torchrun,
            "-m llm_train.cli.main",
            shlex.join(job.command[1:]),
        ]
        return f"srun {' '.join(srun_options(job))} --ntasks-per-node=1 {' '.join(w for w in inner if w)}"
    return f"srun {' '.join(srun_options(job))} {shlex.join(command)}"
