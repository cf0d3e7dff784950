"""`eval watch`: each ready checkpoint evaluated exactly once, in-process and as a live process;
results in results.jsonl and in the training run's Aim run at the checkpoint's step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from evals.results import read_records
from evals.runner import with_generated_tasks
from evals.settings import EvalSettings, load_run_config, settings_from_config
from evals.watcher import Watcher
from tests.test_eval_support import REPO, tiny_spec, world, write_checkpoint


def _settings(run_dir, **kw) -> EvalSettings:
    cfg = load_run_config(run_dir)
    return with_generated_tasks(
        settings_from_config(cfg, max_docs_per_language=2, languages=["de", "fr"], **kw), run_dir
    ), cfg


def _steps(run_dir, kind=None):
    return sorted(
        r["step"] for r in read_records(run_dir / "evals" / "results.jsonl") if kind in (None, r["kind"])
    )


def test_watch_evaluates_each_checkpoint_once_and_logs_to_aim(tmp_path):
    w = world(tmp_path, steps=(10,))
    run_dir = w["run_dir"]
    settings, cfg = _settings(run_dir)
    lines = []
    watcher = Watcher(run_dir, settings, cfg, echo=lines.append)

    assert watcher.run_once().evaluated == [10]
    write_checkpoint(run_dir, 20, tiny_spec(), ready=False)  # being saved
    bad = write_checkpoint(run_dir, 30, tiny_spec())
    (bad / "model.safetensors").write_bytes(b"not a safetensors file")
    report = watcher.run_once()
    assert report.evaluated == [] and report.failed == [30] and report.waiting == [20]
    (run_dir / "checkpoints" / "step-20.ready.json").write_text(json.dumps({"step": 20}))
    assert watcher.run_once().evaluated == [20]
    assert watcher.run_once().evaluated == []  # nothing twice
    assert _steps(run_dir) == [10, 20, 30]

    # --retry-failed: the repaired checkpoint gets a result after its failure record
    write_checkpoint(run_dir, 30, tiny_spec())
    retry = Watcher(run_dir, settings, cfg, retry_failed=True, echo=lines.append).run_once()
    assert retry.evaluated == [30]
    assert _steps(run_dir, "result") == [10, 20, 30] and _steps(run_dir, "failure") == [30]
    assert any(line.startswith("step 20: bpb macro") for line in lines)

    # Aim: the training run (created on first use and remembered in aim.json) has bpb per language at each step
    from aim import Repo
    from aim.storage.context import Context

    state = json.loads((run_dir / "aim.json").read_text())
    run = Repo.from_path(state["repo"]).get_run(state["run_hash"])
    metric = run.get_metric("bpb", Context({"subset": "eval", "lang": "de"}))
    assert sorted(metric.data.indices_list()) == [10, 20, 30]
    acc = run.get_metric("acc", Context({"subset": "eval", "task": "continuation", "lang": "fr"}))
    assert acc is not None and sorted(acc.data.indices_list()) == [10, 20, 30]


def test_live_watch_process_picks_up_a_new_checkpoint_once(tmp_path):
    w = world(tmp_path, steps=(10,))
    run_dir = w["run_dir"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "llm_train.cli.main",
        "eval",
        "watch",
        str(run_dir),
        "--interval",
        "0.5",
        "--max-docs",
        "2",
        "--languages",
        "de",
        "--no-track",
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while _steps(run_dir) != [10] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _steps(run_dir) == [10]
        write_checkpoint(run_dir, 20, tiny_spec())
        while _steps(run_dir) != [10, 20] and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # a few more passes: still one record per checkpoint
        assert _steps(run_dir) == [10, 20]
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-2000:]
    assert "step 20: bpb macro" in out


def test_a_second_watcher_on_the_same_run_is_refused(tmp_path):
    w = world(tmp_path, steps=())
    settings, cfg = _settings(w["run_dir"], tasks=[])
    first = Watcher(w["run_dir"], settings, cfg, echo=lambda _: None)
    second = Watcher(w["run_dir"], settings, cfg, echo=lambda _: None)
    from evals.errors import EvalError

    with first._lock(), pytest.raises(EvalError, match="another `eval watch`"):
        second.run_once()


def test_sigterm_stops_the_watch_loop_after_the_current_pass(tmp_path):
    w = world(tmp_path, steps=())
    settings, cfg = _settings(w["run_dir"], tasks=[])
    lines = []

    def echo(line):
        lines.append(line)
        if len(lines) == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # what scancel sends

    handler = signal.getsignal(signal.SIGTERM)
    watcher = Watcher(w["run_dir"], settings, cfg, track=False, echo=echo)
    assert watcher.watch(interval=30) == 0  # returns at once, without sleeping 30 s
    assert len(lines) == 1 and lines[0].startswith("watch:")
    assert signal.getsignal(signal.SIGTERM) is handler  # the caller's handler is back
