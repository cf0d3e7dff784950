"""A real browser through the tunnel path: headless Chromium on a 127.0.0.1 port forwarded to the UI's
Unix socket (what `ssh -L` gives a laptop) sees the run the project's tracker wrote, and its metrics."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from llm_train.tracking import AimTracker
from tests.helpers.aim_ui import Chromium, Forwarder, chromium_paths, socket_of, track_ui, wait_served

pytestmark = [pytest.mark.slow, pytest.mark.aim, pytest.mark.timeout(600)]


def test_chromium_sees_the_run_and_its_metrics_through_the_tunnel(tmp_path):
    paths = chromium_paths()
    assert paths, "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    run_dir = tmp_path / "runs" / "browser-ui" / "r7"
    run_dir.mkdir(parents=True)
    tracker = AimTracker(str(tmp_path / "runs" / "aim"), run_dir, "browser-ui", {"lr": 1e-3}, None)
    for step in range(1, 9):
        tracker.log(step, {"loss": 3.25 - 0.25 * step}, {"subset": "train"})  # last: 1.25
    tracker.log(8, {"bpb": 1.5}, {"subset": "valid", "lang": "de"})
    run_hash = tracker.run.hash
    tracker.close()

    # A short socket path in a world-traversable base: the UI's own 0700 dir is made inside it.
    base = Path(tempfile.mkdtemp(prefix="lt-ui-", dir="/tmp"))
    try:
        with track_ui(str(run_dir), "--socket", str(base / "s" / "ui.sock"), log=tmp_path / "ui.log") as (
            _,
            out,
        ):
            sock = socket_of(out)
            wait_served(sock)
            forward = Forwarder(sock)
            browser = Chromium(*paths, profile=tmp_path / "profile", log=tmp_path / "chromedriver.log")
            try:
                url = f"http://127.0.0.1:{forward.port}"
                browser.get(f"{url}/runs")
                text = browser.wait_text("browser-ui/r7", "loss", 'subset="train"', "1.25")
                assert "browser-ui" in text
                shot = browser.screenshot(tmp_path / "runs-explorer.png")
                browser.get(f"{url}/runs/{run_hash}/metrics")
                browser.wait_text("loss", "bpb", 'lang="de"')
                chart = browser.screenshot(tmp_path / "run-metrics.png")
            finally:
                browser.close()
                forward.close()
        log = (tmp_path / "ui.log").read_text()
        assert "refused" not in log, log  # the read-only UI never needed a write to show this
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for png in (shot, chart):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
        print(f"screenshot: {png}")
