"""A Unix socket only its owner can open: mode 0600 in a 0700 directory the owner alone can write.

On a login node 127.0.0.1 is shared by every user of the node; a Unix socket is guarded by file
permissions instead, and `ssh -L PORT:/path/to.sock` forwards it to a laptop. The directory is the
real guard (nobody else can even reach the socket); the socket's own 0600 is the second one.
"""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import stat
import tempfile
from pathlib import Path

from llm_train.errors import LLMTrainError

# sun_path holds 108 bytes including the terminating NUL on Linux.
MAX_SOCKET_PATH = 107


class SocketError(LLMTrainError):
    """The UI's socket cannot be served safely (or at all) at this path."""


def default_socket_dir() -> Path:
    """`$XDG_RUNTIME_DIR/llm-train` (per-user, tmpfs, cleared at logout), else `<tmp>/llm-train-<uid>`."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir() and Path(runtime).stat().st_uid == os.getuid():
        return Path(runtime) / "llm-train"
    return Path(tempfile.gettempdir()) / f"llm-train-{os.getuid()}"


def default_socket_path(repo: Path) -> Path:
    """One socket per repo, so a second UI on the same repo finds the first instead of a twin."""
    digest = hashlib.sha256(str(repo).encode()).hexdigest()[:10]
    return default_socket_dir() / f"aim-{digest}.sock"


def private_dir(path: Path) -> Path:
    """Create `path` as 0700, or check that an existing one is ours and nobody else can write it."""
    path = Path(path)
    try:
        path.mkdir(mode=0o700, parents=False)
    except FileExistsError:
        pass
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise SocketError(f"{path}: expected a directory for the UI socket, found something else")
    if info.st_uid != os.getuid():
        raise SocketError(
            f"{path}: owned by uid {info.st_uid}, not by you (uid {os.getuid()}); someone else could "
            "swap the socket. Remove it or pass --socket in a directory of your own"
        )
    if info.st_mode & 0o022:
        raise SocketError(
            f"{path}: other users can write to this directory (mode {stat.S_IMODE(info.st_mode):04o}) "
            f"and could replace the socket; `chmod 700 {path}` or pass --socket elsewhere"
        )
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)  # ours and not writable by others: close it to readers too
    return path


def is_served(path: Path) -> bool:
    """True if a process accepts connections on the socket; False for a stale one (nobody listening)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2.0)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            return False
        raise
    else:
        return True
    finally:
        probe.close()


def bind_private(path: Path) -> tuple[socket.socket, bool]:
    """A listening socket at `path` (0600, in a private dir); returns it and whether a stale one was replaced."""
    path = Path(path).absolute()
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise SocketError(
            f"{path}: {len(os.fsencode(path))} bytes, longer than a Unix socket path may be "
            f"({MAX_SOCKET_PATH}); pass a shorter --socket"
        )
    private_dir(path.parent)
    replaced = False
    if os.path.lexists(path):
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise SocketError(f"{path}: exists and is not a socket; remove it or pass another --socket")
        if is_served(path):
            raise SocketError(
                f"{path}: already served (another `llm-train track ui` on this repo?); "
                "open that one, or stop it first"
            )
        path.unlink()  # left by a UI that was killed: nobody listens on it
        replaced = True
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # created 0600: never a moment when others could connect
    try:
        sock.bind(str(path))
    except OSError:
        sock.close()
        raise
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock, replaced
