"""Steps and samples from metrics.jsonl and the checkpoints: a plain run, a crash and resume, a
spike rollback that skips a window, a batch-size change, steps after the last log line."""

from __future__ import annotations

import json

from llm_train.lineage.timeline import build_timeline
from llm_train.run_dir import RunDir


def make_run(tmp_path, records, checkpoints):
    """`records`: ("m", step, consumed) metric lines or ("e", name, step, consumed) events, in order;
    `checkpoints`: {step: consumed}."""
    run = RunDir(tmp_path / "run")
    run.checkpoints.mkdir(parents=True)
    lines = []
    for t, rec in enumerate(records):
        if rec[0] == "m":
            _, step, consumed = rec
            lines.append(
                {
                    "time": t,
                    "step": step,
                    "context": {"subset": "train"},
                    "metrics": {"loss": 1.0, "consumed_samples": consumed},
                }
            )
        else:
            _, name, step, consumed = rec
            lines.append({"time": t, "step": step, "event": name, "consumed_samples": consumed})
    run.metrics_file.write_text("".join(json.dumps(x) + "\n" for x in lines))
    for step, consumed in checkpoints.items():
        run.step_dir(step).mkdir()
        (run.step_dir(step) / "trainer_state.json").write_text(
            json.dumps({"step": step, "data": {"consumed_samples": consumed}})
        )
        run.ready_marker(step).write_text("{}")
    return run


def test_plain_run_with_sparse_logging(tmp_path):
    run = make_run(tmp_path, [("e", "start", 0, 0), ("m", 10, 80), ("m", 20, 160)], {10: 80, 20: 160})
    tl = build_timeline(run)
    assert tl.samples_of_step(1) == (0, 8) and tl.samples_of_step(15) == (112, 120)
    assert tl.steps_of(119) == [(15, True)]
    assert [(c.step, c.consumed) for c in tl.checkpoints] == [(10, 80), (20, 160)]
    assert tl.checkpoints[0].saw(79) and not tl.checkpoints[0].saw(80)


def test_resume_after_a_crash_replays_the_same_samples(tmp_path):
    records = [("e", "start", 0, 0), ("m", 5, 40), ("m", 7, 56), ("e", "resume", 5, 40), ("m", 10, 80)]
    tl = build_timeline(make_run(tmp_path, records, {5: 40, 10: 80}))
    assert tl.steps_of(50) == [(7, True)]  # replayed: the kept step, no duplicate
    assert tl.consumed == 80 and tl.last_step == 10


def test_rollback_skips_a_window_no_later_checkpoint_saw(tmp_path):
    # Checkpoint at step 4 (32 samples); bad steps up to 6; rollback to 4, skipping 16 samples past 48.
    records = [
        ("e", "start", 0, 0),
        ("m", 4, 32),
        ("m", 6, 48),
        ("e", "rollback", 4, 64),
        ("m", 8, 96),
    ]
    tl = build_timeline(make_run(tmp_path, records, {4: 32, 8: 96}))
    assert tl.skipped == [(32, 64)]
    assert tl.steps_of(35) == [(5, False)] and tl.steps_of(40) == [(6, False)]  # read, then undone
    assert tl.steps_of(70) == [(5, True)]  # after the rollback, step 5 read 64..71
    step8 = tl.checkpoints[1]
    assert step8.saw(70) and not step8.saw(40) and not step8.saw(60) and step8.saw(10)


def test_batch_change_on_resume_and_steps_after_the_last_log(tmp_path):
    records = [("e", "start", 0, 0), ("m", 4, 32), ("e", "resume", 4, 32), ("m", 6, 64)]
    # The run went on to step 9 and checkpointed there without a log line after step 6.
    tl = build_timeline(make_run(tmp_path, records, {4: 32, 9: 112}))
    assert tl.samples_of_step(5) == (32, 48)  # 16 per step after the resume
    assert tl.samples_of_step(9) == (96, 112)
    assert tl.last_step == 9
