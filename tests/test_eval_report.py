"""`eval report`: Markdown plus PNG plots of loss, BPB per language and task accuracy vs tokens."""

from __future__ import annotations

import shutil

import numpy as np
from matplotlib import image

from evals.cli import main as eval_main
from tests.test_eval_support import world


def _ink(png) -> float:
    """Share of pixels that are not background white."""
    pixels = image.imread(str(png))[..., :3]
    return float((pixels.min(axis=-1) < 0.9).mean())


def test_report_overlays_runs_and_renders_curves(tmp_path):
    w = world(tmp_path, steps=(10, 20, 30))
    run1 = w["run_dir"]
    args = ["--all", "--max-docs", "2", "--languages", "de,fr", "--no-track"]
    assert eval_main(["run", str(run1), *args]) == 0
    run2 = run1.parent / "run2"
    shutil.copytree(run1, run2, ignore=shutil.ignore_patterns("evals"))
    assert eval_main(["run", str(run2), "--step", "20", *args[1:]]) == 0

    out = tmp_path / "report"
    assert eval_main(["report", str(run1), str(run2), "--output", str(out)]) == 0
    md = (out / "report.md").read_text()
    for png in ("loss_vs_tokens.png", "bpb_vs_tokens.png", "tasks_vs_tokens.png"):
        assert f"]({png})" in md
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert _ink(out / png) > 0.01  # axes, labels and curves, not an empty canvas
    assert "| evaltest/run1 | 30 | 7,680 |" in md  # newest checkpoint, tokens = 30 * 4 * 64
    assert "| evaltest/run2 | 20 | 5,120 |" in md
    assert "| continuation | de |" in md

    # One run, one checkpoint fewer: the BPB plot changes (the curves come from the records).
    single = tmp_path / "single"
    assert eval_main(["report", str(run2), "--output", str(single)]) == 0
    a = image.imread(str(out / "bpb_vs_tokens.png"))
    b = image.imread(str(single / "bpb_vs_tokens.png"))
    assert a.shape != b.shape or not np.array_equal(a, b)


def test_report_of_a_run_without_evals_says_so(tmp_path):
    w = world(tmp_path, steps=())
    assert eval_main(["report", str(w["run_dir"])]) == 0
    md = (w["run_dir"] / "evals" / "report" / "report.md").read_text()
    assert "_no data yet_" in md and (w["run_dir"] / "evals" / "report" / "loss_vs_tokens.png").is_file()
