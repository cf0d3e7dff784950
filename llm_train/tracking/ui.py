"""`llm-train track ui`: Aim's UI on a private Unix socket, read-only unless asked, until interrupted.

What `aim up` does (database migration, the index and run-status watchers, uvicorn), served
in this one process on a socket bound here: 0600 from the start (`aim up --uds` leaves uvicorn's
0666), behind `UIGuard` (Aim's `--read-only` leaves tags, notes and dashboards writable and answers
every web origin). One process, so an interrupt stops everything and nothing outlives it.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from llm_train.errors import LLMTrainError
from llm_train.tracking.repo import is_remote, repo_of_config
from llm_train.tracking.ui_guard import UIGuard, is_loopback_name
from llm_train.tracking.ui_socket import SocketError, bind_private, default_socket_path
from llm_train.tracking.ui_tunnel import this_node, tunnel

log = logging.getLogger(__name__)
AIM_DIR = ".aim"


class RepoError(LLMTrainError):
    """The path given to `track ui` is not an Aim repo nor a run dir that has one."""


def resolve_repo(target: str | Path) -> Path:
    """A run dir (its Aim repo: aim.json, else the config's rule) or an Aim repo -> the repo directory."""
    from llm_train.tracking.aim_tracker import read_state

    path = Path(target).expanduser()
    if path.name == AIM_DIR:
        path = path.parent
    if not path.exists():
        raise RepoError(f"{target}: no such file or directory (expected an Aim repo or a run dir)")
    if not path.is_dir():
        raise RepoError(f"{target}: not a directory (expected an Aim repo or a run dir)")
    if (path / AIM_DIR).is_dir():
        return path.resolve()
    if (path / "config.yaml").is_file() or (path / "aim.json").is_file():
        from llm_train.config.loader import load_resolved_file

        repo = read_state(path).get("repo")
        if not repo and (path / "config.yaml").is_file():
            repo = repo_of_config(load_resolved_file(path))
        if repo and is_remote(repo):
            raise RepoError(f"{target}: this run tracks to the server {repo}; open that server's UI")
        if repo and (Path(repo) / AIM_DIR).is_dir():
            return Path(repo).resolve()
        raise RepoError(
            f"{target}: a run dir whose Aim repo {repo or '(none)'} does not exist (was Aim off? "
            f"`llm-train track sync {target}` imports its metrics.jsonl)"
        )
    raise RepoError(
        f"{target}: not an Aim repo (no {AIM_DIR}/ inside) nor a run dir (no config.yaml); "
        "pass <runs_dir>/aim or a run dir"
    )


def reach_warning(host: str, port: int, writable: bool) -> str:
    """Who can open a UI served on TCP host:port (there is no login in front of Aim)."""
    what = "browse these experiments" + (" and change or delete runs" if writable else "")
    if is_loopback_name(host):
        who = f"every user logged in to this node ({this_node()})"
    elif host in ("", "0.0.0.0", "::"):
        who = f"anyone who can reach any address of this node ({this_node()})"
    else:
        who = f"anyone who can reach {host}"
    return f"WARNING: {host}:{port} is open to {who}: any of them can {what}. Without --host/--port the UI is on a socket only you can open."


def _tcp_socket(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host.strip("[]")).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET
    try:
        return socket.create_server((host.strip("[]"), port), family=family, backlog=128)
    except OSError as exc:
        raise SocketError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None


def _check_repo(repo: Path) -> None:
    from aim.sdk.repo import Repo, RepoStatus

    status = Repo.check_repo_status(str(repo))
    if status == RepoStatus.MISSING:
        raise RepoError(f"{repo}: not an Aim repo")
    if status == RepoStatus.UPDATE_REQUIRED:
        raise RepoError(f"{repo}: written by an older Aim; upgrade it with Aim's own tools first")


def _migrate_ui_db(repo: Path) -> None:
    """The UI's own tables (dashboards, explorer states) in the repo, as `aim up` creates them."""
    from aim.cli.utils import build_db_upgrade_command
    from aim.web.configs import AIM_UI_MOUNTED_REPO_PATH

    env = {**os.environ, AIM_UI_MOUNTED_REPO_PATH: str(repo)}
    proc = subprocess.run(build_db_upgrade_command(), env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RepoError(f"{repo}: Aim's UI database migration failed:\n{proc.stderr[-2000:]}")


def serve(
    target: str | Path,
    socket_path: Path | None = None,
    host: str | None = None,
    port: int | None = None,
    writable: bool = False,
    out: Callable[[str], None] | None = None,
) -> int:
    """Serve the UI until SIGINT/SIGTERM/SIGHUP; the socket is removed on the way out."""
    out = out or (lambda line: print(line, flush=True))
    repo = resolve_repo(target)
    _check_repo(repo)
    tcp = host is not None or port is not None
    if tcp:
        host, port = host or "127.0.0.1", 43800 if port is None else port
        sock, replaced = _tcp_socket(host, port), False
    else:
        socket_path = Path(socket_path or default_socket_path(repo)).absolute()
        sock, replaced = bind_private(socket_path)
    bound = None if tcp else os.stat(socket_path).st_ino
    try:
        return _run(repo, sock, socket_path, host, port, writable, replaced, out)
    finally:
        sock.close()
        if socket_path is not None and _same_inode(socket_path, bound):
            socket_path.unlink()
            out(f"UI stopped; removed {socket_path}")


def _same_inode(path: Path, inode: int | None) -> bool:
    try:
        return inode is not None and os.lstat(path).st_ino == inode
    except FileNotFoundError:
        return False


def _run(repo, sock, socket_path, host, port, writable, replaced, out) -> int:
    from llm_train.tracking.aim_tracker import index_repo

    if replaced:
        out(f"replaced a stale socket (a UI that did not stop cleanly): {socket_path}")
    out(f"indexed {index_repo(str(repo))} runs in {repo}")
    _migrate_ui_db(repo)
    app = _aim_app(repo, writable)
    mode = "WRITABLE: runs can be changed and deleted from the browser" if writable else "read-only"
    out(f"Aim UI ({mode}) for {repo}")
    if socket_path is not None:
        out(f"  socket {socket_path} (mode 0600 in a 0700 directory: only you can open it)")
        t = tunnel(str(socket_path))
    else:
        out(reach_warning(host, port, writable))
        t = tunnel(f"127.0.0.1:{port}" if host in ("", "0.0.0.0", "::") else f"{host}:{port}")
    out("  on your laptop:")
    out(f"    {t.command}")
    out(f"  then open {t.url}")
    for note in t.notes:
        out(f"  ({note})")
    out("Ctrl-C stops the UI" + (" and removes the socket" if socket_path is not None else ""))
    loopback_only = socket_path is not None or is_loopback_name(host)
    _serve_forever(UIGuard(app, writable=writable, loopback_only=loopback_only), sock)
    return 0


def _aim_app(repo: Path, writable: bool):
    """Aim's web app for `repo`, with the watchers `aim up` starts (new and live runs get indexed)."""
    from aim.sdk.index_manager import RepoIndexManager
    from aim.sdk.repo import Repo
    from aim.sdk.run_status_manager import RunStatusManager
    from aim.web.configs import AIM_ENV_MODE_KEY, AIM_READ_ONLY_UI, AIM_UI_MOUNTED_REPO_PATH

    os.environ[AIM_ENV_MODE_KEY] = "prod"
    os.environ[AIM_UI_MOUNTED_REPO_PATH] = str(repo)
    if writable:
        os.environ.pop(AIM_READ_ONLY_UI, None)
    else:
        os.environ[AIM_READ_ONLY_UI] = "1"  # Aim's own check, under the guard's
    repo_inst = Repo.from_path(str(repo))
    RepoIndexManager.get_index_manager(repo_inst).start()
    RunStatusManager(repo_inst).start()
    from aim.web.run import app

    return app


def _serve_forever(app, sock: socket.socket) -> None:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))

    def stop(signum, frame):
        server.should_exit = True

    # uvicorn handles SIGINT/SIGTERM while serving and re-raises them afterwards: these handlers
    # catch that re-raise (so the socket is still removed) and SIGHUP (the ssh session closed).
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        server.run(sockets=[sock])
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    sys.stdout.flush()
