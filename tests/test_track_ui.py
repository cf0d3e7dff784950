"""`llm-train track ui`: a private socket (0600 in a 0700 dir), read-only, the tunnel it prints,
stale and served sockets, bad paths, and another Unix user who must not get in."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from llm_train.tracking import AimTracker
from llm_train.tracking.ui_tunnel import tunnel
from tests.helpers.aim_ui import REPO, socket_of, track_ui, uds_request, ui_cmd, wait_served

pytestmark = [pytest.mark.aim, pytest.mark.timeout(600)]


def write_run(root: Path, experiment: str = "ui-test", run_id: str = "r1") -> tuple[Path, str]:
    """An Aim run written by the project's tracker, as the trainer writes it; returns (run dir, hash)."""
    run_dir = root / "runs" / experiment / run_id
    run_dir.mkdir(parents=True)
    tracker = AimTracker(str(root / "runs" / "aim"), run_dir, experiment, {"lr": 1e-3}, None)
    for step in range(1, 6):
        tracker.log(step, {"loss": 3.0 - 0.25 * step}, {"subset": "train"})
    run_hash = tracker.run.hash
    tracker.close()
    return run_dir, run_hash


@pytest.fixture(scope="module")
def open_base():
    """A world-traversable base (like /tmp), so only the UI's own guards keep others out."""
    base = Path(tempfile.mkdtemp(prefix="lt-ui-", dir="/tmp"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def ui(tmp_path_factory, open_base):
    root = tmp_path_factory.mktemp("ui")
    run_dir, run_hash = write_run(root)
    sock = open_base / "private" / "ui.sock"
    log = root / "ui.log"
    with track_ui(str(root / "runs" / "aim"), "--socket", str(sock), log=log) as (proc, output):
        wait_served(sock)
        yield {
            "proc": proc,
            "output": output,
            "socket": sock,
            "hash": run_hash,
            "repo": root / "runs" / "aim",
        }
    assert proc.returncode == 0, log.read_text()
    assert not sock.exists(), "the socket outlived the UI"


def test_socket_is_private_and_the_tunnel_is_printed(ui):
    sock = ui["socket"]
    assert socket_of(ui["output"]) == sock
    assert oct(sock.stat().st_mode & 0o777) == oct(0o600)
    assert oct(sock.parent.stat().st_mode & 0o777) == oct(0o700)
    assert f"ssh -N -L 43800:{sock} " in ui["output"]
    assert "http://127.0.0.1:43800" in ui["output"]
    assert "read-only" in ui["output"]
    assert "indexed 1 runs" in ui["output"]


def test_reads_work_and_list_the_run(ui):
    status, info = uds_request(ui["socket"], "GET", f"/api/runs/{ui['hash']}/info/")
    assert status == 200, info
    assert info["props"]["name"] == "ui-test/r1"
    # the UI reads metric values with a POST: the guard lets it through
    status, body = uds_request(
        ui["socket"],
        "POST",
        f"/api/runs/{ui['hash']}/metric/get-batch/",
        [{"name": "loss", "context": {"subset": "train"}}],
    )
    assert status == 200, body


def test_writes_are_refused_and_the_run_stays(ui):
    sock, run_hash = ui["socket"], ui["hash"]
    status, body = uds_request(sock, "DELETE", f"/api/runs/{run_hash}/")
    assert status == 403, body
    # Aim's own --read-only leaves notes and tags writable: the guard refuses them too.
    status, _ = uds_request(sock, "POST", f"/api/runs/{run_hash}/note/", {"content": "hi"})
    assert status == 403
    status, _ = uds_request(sock, "POST", "/api/tags/", {"name": "t"})
    assert status == 403
    status, info = uds_request(sock, "GET", f"/api/runs/{run_hash}/info/")
    assert status == 200 and info["props"]["name"] == "ui-test/r1"
    from aim import Repo

    assert run_hash in Repo.from_path(str(ui["repo"])).list_all_runs()


def test_other_web_pages_are_refused(ui):
    sock = ui["socket"]
    status, _ = uds_request(sock, "GET", "/api/projects/", headers={"Origin": "https://evil.example"})
    assert status == 403
    status, _ = uds_request(sock, "GET", "/api/projects/", headers={"Host": "evil.example:43800"})
    assert status == 403
    status, _ = uds_request(
        sock, "GET", "/api/projects/", headers={"Host": "127.0.0.1:43800", "Origin": "http://127.0.0.1:43800"}
    )
    assert status == 200


def _connect_as(uid: int, gid: int, path: Path) -> int:
    """Connect to the socket from a forked child running as uid/gid; 0 or the errno it got."""
    pid = os.fork()
    if pid == 0:  # child: drop to the other user, try, report through the exit code
        code = 99
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(path))
                code = 0
            except OSError as exc:
                code = exc.errno or 98
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.fixture
def other_user():
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("creating another Unix user needs root and useradd")
    name = f"ltui{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        import pwd

        entry = pwd.getpwnam(name)
        yield entry.pw_uid, entry.pw_gid
    finally:
        subprocess.run(["userdel", name], check=False)


def test_another_user_cannot_connect(ui, other_user):
    uid, gid = other_user
    sock = ui["socket"]
    assert _connect_as(uid, gid, sock) == errno.EACCES  # the 0700 directory
    sock.parent.chmod(0o711)
    try:
        assert _connect_as(uid, gid, sock) == errno.EACCES  # the socket's own 0600
        sock.chmod(0o666)
        try:
            assert _connect_as(uid, gid, sock) == 0  # the check can tell: opened up, they get in
        finally:
            sock.chmod(0o600)
    finally:
        sock.parent.chmod(0o700)


def test_a_served_socket_is_refused_and_a_stale_one_replaced(tmp_path, open_base):
    write_run(tmp_path)
    repo = tmp_path / "runs" / "aim"
    sock = open_base / "stale" / "ui.sock"
    with track_ui(str(repo), "--socket", str(sock), log=tmp_path / "first.log") as (first, _):
        wait_served(sock)
        second = subprocess.run(
            ui_cmd(str(repo), "--socket", str(sock)), capture_output=True, text=True, cwd=REPO
        )
        assert second.returncode != 0
        assert "already served" in second.stderr
        os.killpg(first.pid, signal.SIGKILL)  # a crash: nobody removes the socket
        first.wait(timeout=30)
    assert sock.is_socket()
    with track_ui(str(repo), "--socket", str(sock), log=tmp_path / "again.log") as (again, output):
        assert "replaced a stale socket" in output
        wait_served(sock)
    assert again.returncode == 0
    assert not sock.exists()


def test_tcp_serving_warns_who_can_reach_it(tmp_path):
    from tests.helpers.aim_ui import free_port

    write_run(tmp_path)
    port = free_port()
    args = (str(tmp_path / "runs" / "aim"), "--host", "127.0.0.1", "--port", str(port))
    with track_ui(*args, log=tmp_path / "tcp.log") as (_, output):
        assert "WARNING: 127.0.0.1:" in output and "every user logged in to this node" in output
        assert f"ssh -N -L 43800:127.0.0.1:{port} " in output


def run_ui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(ui_cmd(*args), capture_output=True, text=True, cwd=REPO, timeout=120)


def test_bad_paths_give_clear_errors(tmp_path):
    missing = run_ui(str(tmp_path / "nope"))
    assert missing.returncode == 1 and "no such file or directory" in missing.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    not_repo = run_ui(str(plain))
    assert not_repo.returncode == 1 and "not an Aim repo" in not_repo.stderr
    assert "Traceback" not in missing.stderr + not_repo.stderr


def test_a_socket_dir_others_can_write_is_refused(tmp_path):
    write_run(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    proc = run_ui(str(tmp_path / "runs" / "aim"), "--socket", str(shared / "ui.sock"))
    assert proc.returncode == 1
    assert "other users can write to this directory" in proc.stderr
    assert not (shared / "ui.sock").exists()


def test_a_run_dir_opens_its_repo(tmp_path):
    from llm_train.tracking.ui import resolve_repo

    run_dir, _ = write_run(tmp_path)
    assert resolve_repo(run_dir) == (tmp_path / "runs" / "aim").resolve()
    assert resolve_repo(tmp_path / "runs" / "aim" / ".aim") == (tmp_path / "runs" / "aim").resolve()


def test_tunnel_names_this_node_or_says_what_to_substitute():
    sock = "/run/user/1000/llm-train/aim-0123456789.sock"
    login = tunnel(
        sock, env={"SSH_CONNECTION": "10.0.0.9 50000 10.0.0.1 22"}, node="jwlogin05.site.eu", user="ada"
    )
    assert login.command == f"ssh -N -L 43800:{sock} ada@jwlogin05.site.eu"
    assert login.url == "http://127.0.0.1:43800"
    assert any("round-robin" in n for n in login.notes)
    job = tunnel(
        sock,
        env={"SLURM_JOB_ID": "42", "SLURMD_NODENAME": "jwb0123", "SLURM_SUBMIT_HOST": "jwlogin05"},
        node="jwb0123",
        user="ada",
    )
    assert job.command == f"ssh -N -L 43800:{sock} -J ada@jwlogin05 ada@jwb0123"
    unknown_login = tunnel(
        sock, env={"SLURM_JOB_ID": "42", "SLURMD_NODENAME": "jwb0123"}, node="n", user="ada"
    )
    assert "-J ada@LOGIN-NODE" in unknown_login.command
    assert any("replace LOGIN-NODE" in n for n in unknown_login.notes)
    local = tunnel(sock, env={}, node="laptop", user="ada")
    assert any("replace it with the address" in n for n in local.notes)


def test_default_socket_dir_prefers_the_runtime_dir(tmp_path, monkeypatch):
    from llm_train.tracking.ui_socket import default_socket_dir

    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert default_socket_dir() == runtime / "llm-train"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert default_socket_dir() == Path(tempfile.gettempdir()) / f"llm-train-{os.getuid()}"
