"""Slurm mechanics against the real local cluster: requeue on the trainer's interrupted code,
the requeue and failure budgets, Slurm's own rejection message, afterok chains, a 2-node
rendezvous, and `llm-train jobs` / `logs`.

The workload here is a stand-in for the trainer (a counter checkpointed into the run dir, exit
124 on USR1/TERM), so these tests check the Slurm side only; tests/test_slurm_train.py runs the
real `llm-train train`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import yaml

from llm_train.cli.main import main as cli
from llm_train.config import load_config
from llm_train.slurm import events
from llm_train.slurm.build import SubmitOptions, build_job
from llm_train.slurm.sbatch import SlurmError
from llm_train.slurm.submit import submit_chain, submit_job

pytestmark = pytest.mark.slurm
REPO = Path(__file__).resolve().parents[1]

WORKLOAD = """\
import os, signal, sys, time
run_dir, total, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
mode = sys.argv[4] if len(sys.argv) > 4 else "normal"
if mode == "crash":
    sys.exit(3)
stop = []
signal.signal(signal.SIGUSR1, lambda *a: stop.append(1))
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
ckpt = os.path.join(run_dir, "checkpoints")
os.makedirs(ckpt, exist_ok=True)
latest = os.path.join(ckpt, "latest")
step = int(open(latest).read()) if os.path.exists(latest) else 0
attempt = os.environ.get("SLURM_RESTART_COUNT", "0")
while step < total:
    time.sleep(pause)
    step += 1
    with open(os.path.join(run_dir, "progress.log"), "a") as f:
        f.write(f"{attempt} {step}\\n")
    if mode != "no-checkpoint":
        with open(latest + ".tmp", "w") as f:
            f.write(str(step))
        os.replace(latest + ".tmp", latest)
    print(f"step {step}", flush=True)
    if stop:
        sys.exit(124)
open(os.path.join(run_dir, "result.txt"), "w").write(str(step))
"""


def experiment(tmp_path: Path, **slurm) -> Path:
    cfg = {
        "defaults": [{"model": "tiny"}, {"cluster": "local-slurm"}],
        "name": "mech",
        "runs_dir": str(tmp_path / "runs"),
        "train": {
            "steps": 4,
            "warmup_steps": 1,
            "seq_length": 64,
            "global_batch_size": 8,
            "micro_batch_size": 2,
        },
        "cluster": {"slurm": slurm} if slurm else {},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def standin_job(
    tmp_path: Path, total: int, pause: float, mode: str = "normal", time_limit: str = "5", **slurm
):
    workload = tmp_path / "workload.py"
    workload.write_text(WORKLOAD)
    resolved = load_config(experiment(tmp_path, **slurm), ["parallel.dp=auto"], cluster="local-slurm")
    run_dir = tmp_path / "runs" / "mech" / "r1"
    command = [sys.executable, str(workload), str(run_dir), str(total), str(pause), mode]
    return build_job(
        resolved, "train", command, run_dir, SubmitOptions(time=time_limit, nodes=1), workdir=tmp_path
    )


def names(run_dir: Path) -> list[tuple[str, int | None]]:
    return [(e["event"], e.get("attempt")) for e in events.read(run_dir)]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def progress(run_dir: Path) -> list[tuple[int, int]]:
    path = run_dir / "progress.log"
    if not path.exists():
        return []
    return [tuple(map(int, line.split())) for line in path.read_text().splitlines()]


def test_signal_checkpoints_requeues_and_resumes(slurm_cluster, tmp_path):
    job = standin_job(tmp_path, total=12, pause=0.5)
    run_dir = Path(job.run_dir)
    handle = submit_job(job)
    wait_for(lambda: len(progress(run_dir)) >= 3, 60, "first steps")
    handle.signal("USR1")
    assert handle.wait(timeout=90, poll=1) == "COMPLETED"

    steps = progress(run_dir)
    assert [s for _, s in steps] == list(range(1, 13)), "each step exactly once: resumed from the checkpoint"
    assert {a for a, _ in steps} == {0, 1}, "two attempts did the work"
    assert (run_dir / "result.txt").read_text() == "12"
    assert names(run_dir) == [
        ("submitted", None),
        ("started", 1),
        ("signal", 1),
        ("requeued", 1),
        ("started", 2),
        ("finished", 2),
    ]
    assert (run_dir / "slurm" / "DONE").exists() and (
        run_dir / "slurm" / "requeues"
    ).read_text().strip() == "1"
    # Both attempts in one log (--open-mode=append) and in accounting.
    log = (run_dir / "slurm" / f"{job.name}-{handle.job_id}.out").read_text()
    assert log.count("llm-train: attempt") == 2
    attempts = slurm_cluster.run(
        "sacct", "-n", "-X", "-D", "-P", "-j", handle.job_id, "-o", "State"
    ).stdout.split()
    assert attempts == ["REQUEUED", "COMPLETED"]


def test_crash_is_not_requeued(slurm_cluster, tmp_path):
    handle = submit_job(standin_job(tmp_path, total=3, pause=0.1, mode="crash"))
    assert handle.wait(timeout=60, poll=1) == "FAILED"
    assert names(handle.run_dir) == [("submitted", None), ("started", 1), ("failed", 1)]
    assert "exit code 3" in (handle.run_dir / "slurm" / "FAILED").read_text()


def test_requeue_budget_stops_the_loop(slurm_cluster, tmp_path):
    handle = submit_job(standin_job(tmp_path, total=50, pause=0.3, max_requeues=0))
    wait_for(lambda: len(progress(handle.run_dir)) >= 2, 60, "first steps")
    handle.signal("USR1")
    assert handle.wait(timeout=60, poll=1) == "FAILED"
    last = events.read(handle.run_dir)[-1]
    assert last["event"] == "failed" and last["reason"] == "requeue budget of 0 used up"


@pytest.mark.slow
def test_time_limit_signal_requeues_until_done(slurm_cluster, tmp_path):
    """No manual signal: --time=2 with a 100 s lead makes Slurm send USR1 itself (give or take
    its ~30 s time-limit check), and the run completes over several attempts."""
    job = standin_job(tmp_path, total=90, pause=0.5, time_limit="2", signal_lead_s=100)
    handle = submit_job(job)
    assert handle.wait(timeout=240, poll=2) == "COMPLETED"
    steps = progress(handle.run_dir)
    assert [s for _, s in steps] == list(range(1, 91))
    evts = names(handle.run_dir)
    assert evts.count(("requeued", 1)) == 1 and ("signal", 1) in evts and evts[-1][0] == "finished"


def test_sbatch_rejection_surfaces_slurms_message(slurm_cluster, tmp_path, capsys):
    with pytest.raises(SlurmError, match="Invalid feature specification"):
        submit_job(build_job(*_generic(tmp_path, "true", SubmitOptions(time="1", constraint="nosuch"))))
    code = cli(
        [
            "submit",
            str(experiment(tmp_path)),
            "--cluster",
            "local-slurm",
            "--kind",
            "generic",
            "--command",
            "true",
        ]
        + ["-t", "1", "--constraint=nosuch", "--run-id", "cli"]
    )
    assert (
        code == 1 and "Batch job submission failed: Invalid feature specification" in capsys.readouterr().err
    )


def _generic(tmp_path: Path, shell: str, opts: SubmitOptions, run_id: str = "g"):
    resolved = load_config(experiment(tmp_path), ["parallel.dp=auto"], cluster="local-slurm")
    return resolved, "generic", ["bash", "-c", shell], tmp_path / "runs" / "mech" / run_id, opts


def test_afterok_chain_runs_in_order(slurm_cluster, tmp_path):
    out = tmp_path / "order.txt"
    jobs = [
        build_job(
            *_generic(tmp_path, f"sleep 1; echo {name} >> {out}", SubmitOptions(time="2", job_name=name))
        )
        for name in ("prep", "pack", "train", "eval")
    ]
    handles = submit_chain(jobs)
    assert handles[-1].wait(timeout=90, poll=1) == "COMPLETED"
    assert out.read_text().split() == ["prep", "pack", "train", "eval"]
    submitted = events.submitted_jobs(handles[0].run_dir)
    assert [e["sbatch_args"] for e in submitted][1:] == [
        [f"--dependency=afterok:{h.job_id}", "--kill-on-invalid-dep=yes"] for h in handles[:-1]
    ]


def test_failed_stage_cancels_the_rest_of_the_chain(slurm_cluster, tmp_path):
    jobs = [build_job(*_generic(tmp_path, cmd, SubmitOptions(time="2"))) for cmd in ("exit 5", "true")]
    first, second = submit_chain(jobs)
    assert first.wait(timeout=60, poll=1) == "FAILED"
    assert second.wait(timeout=60, poll=1) == "CANCELLED"


RENDEZVOUS = """\
import json, os, socket, sys
import torch, torch.distributed as dist
from llm_train.launch.dist_env import detect
env = detect()
os.environ.update(env.torch_env())
dist.init_process_group("gloo", init_method="env://", rank=env.rank, world_size=env.world_size)
t = torch.tensor([float(env.rank + 1)])
dist.all_reduce(t)
out = {"rank": env.rank, "world": env.world_size, "host": socket.gethostname(), "master": env.master_addr,
       "port": env.master_port, "sum": t.item()}
open(os.path.join(sys.argv[1], f"rank{env.rank}.json"), "w").write(json.dumps(out))
dist.destroy_process_group()
"""


def test_two_node_rendezvous_through_dist_env(slurm_cluster, tmp_path):
    script = tmp_path / "rdzv.py"
    script.write_text(RENDEZVOUS)
    resolved = load_config(experiment(tmp_path), ["parallel.dp=auto"], cluster="local-slurm")
    run_dir = tmp_path / "runs" / "mech" / "rdzv"
    job = build_job(
        resolved,
        "train",
        [sys.executable, str(script), str(run_dir)],
        run_dir,
        SubmitOptions(time="3"),
        tmp_path,
    )
    handle = submit_job(job)
    assert handle.wait(timeout=120, poll=1) == "COMPLETED", (run_dir / "slurm").glob("*.out")
    ranks = [json.loads((run_dir / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [(r["rank"], r["world"], r["host"]) for r in ranks] == [(0, 2, "n1"), (1, 2, "n2")]
    assert {r["master"] for r in ranks} == {"n1"} and {r["sum"] for r in ranks} == {3.0}
    assert ranks[0]["port"] == 20000 + int(handle.job_id) % 20000


def test_jobs_and_logs_commands(slurm_cluster, tmp_path, capsys):
    code = cli(
        ["submit", str(experiment(tmp_path)), "--cluster", "local-slurm", "--kind", "generic"]
        + ["--command", "echo hello-from-the-job", "-t", "1", "--run-id", "cli"]
    )
    assert code == 0
    out = capsys.readouterr().out
    run_dir = tmp_path / "runs" / "mech" / "cli"
    job_id = events.submitted_jobs(run_dir)[0]["job_id"]
    assert f"submitted generic job {job_id}" in out
    scripts = list((run_dir / "slurm").glob("generic-*.sbatch"))
    assert len(scripts) == 1 and scripts[0].read_text().startswith(
        "#!/bin/bash\n#SBATCH --job-name=mech-generic"
    )
    wait_for(lambda: any(e["event"] == "finished" for e in events.read(run_dir)), 60, "the job")
    slurm_cluster.wait(job_id, timeout=30)
    assert cli(["jobs", str(run_dir), "--events"]) == 0
    table = capsys.readouterr().out
    assert job_id in table and "COMPLETED" in table and "finished" in table
    assert cli(["logs", str(run_dir), "-n", "5"]) == 0
    assert "hello-from-the-job" in capsys.readouterr().out


def test_burn_in_runs_once_on_every_node(slurm_cluster, tmp_path, capsys):
    """The burn-in kind: one submitit task per node of the allocation, each running the burn-in
    command in its own process and returning that node's verdict (the checks are not tested here)."""
    import submitit

    from llm_train.slurm.handle import JobHandle

    code = cli(
        ["submit", str(experiment(tmp_path)), "--cluster", "local-slurm", "--kind", "burn-in"]
        + ["-t", "5", "--run-id", "burn"]
    )
    assert code == 0
    run_dir = tmp_path / "runs" / "mech" / "burn"
    (sub,) = events.submitted_jobs(run_dir)
    assert sub["kind"] == "burn-in" and sub["tasks"] == 1
    script = Path(sub["script"]).read_text()
    assert "#SBATCH --nodes=2" in script and "#SBATCH --ntasks-per-node=1" in script
    assert f"llm-train doctor --burn-in --cluster local-slurm --run-dir {run_dir}" in script  # what it runs
    handle = JobHandle(sub["job_id"], run_dir, Path(sub["script"]), "burn-in")
    assert handle.wait(timeout=120, poll=1) == "COMPLETED"
    job = submitit.SlurmJob(run_dir / "slurm" / "burn-in" / "%j", sub["job_id"], tasks=[0, 1])
    verdicts = job.results()
    assert sorted(v["node"] for v in verdicts) == ["n1", "n2"]
    assert all(isinstance(v["exit_code"], int) and "output" in v for v in verdicts)
    started = [e for e in events.read(run_dir) if e["event"] == "started"]
    assert sorted((e["node"], e["task"]) for e in started) == [("n1", 0), ("n2", 1)]


def test_a_function_job_waits_for_its_chain(slurm_cluster, tmp_path):
    """afterok is the layer's own: a function job (eval) after a failed script job never starts."""
    resolved, _, _, run_dir, _ = _generic(tmp_path, "exit 5", SubmitOptions(time="2"))
    failing = build_job(*_generic(tmp_path, "exit 5", SubmitOptions(time="2")))
    evaluation = build_job(
        resolved, "eval", ["llm-train", "eval", str(run_dir)], run_dir, SubmitOptions(time="2")
    )
    first, second = submit_chain([failing, evaluation])
    assert first.wait(timeout=60, poll=1) == "FAILED"
    assert second.wait(timeout=60, poll=1) == "CANCELLED"
    submitted = events.submitted_jobs(run_dir)
    assert (
        submitted[1]["kind"] == "eval"
        and submitted[1]["sbatch_args"][0] == f"--dependency=afterok:{first.job_id}"
    )
