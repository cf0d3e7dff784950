"""One permission policy for everything the project writes (`storage.share`, `--share`, LLM_TRAIN_SHARE).

On a shared filesystem a run dir or a corpus belongs to a project: its Unix group reads what a run
writes (a partner picks up `checkpoints/latest`, evaluates, exports), the rest of the machine does
not (a corpus may hold personal data, a checkpoint is the consortium's asset).

    group    files 0660, directories 2770: the project group reads and writes, new entries inherit
             the directory's group (setgid), other users get nothing. The default.
    private  files 0600, directories 0700: only the user.
    world    files 0644, directories 0755: readable by every user of the machine (public data).

The policy is the process umask (007, 077, 022), set once at start-up by the CLI, so every writer
follows it: ours, and the libraries' (torch.save, DeepSpeed, megatron's checkpoint writers, Aim's
RocksDB, numpy memmaps). The exceptions are fixed here: temporary files (`mkstemp` makes them 0600)
get the policy's mode before they are renamed into place, copied files do not keep their source's
mode, and the top directories a command creates get the setgid bit so the group is inherited below.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Literal

Share = Literal["private", "group", "world"]
SHARES: dict[str, int] = {"private": 0o077, "group": 0o007, "world": 0o022}  # share -> umask
DEFAULT: Share = "group"
ENV = "LLM_TRAIN_SHARE"

_umask: int | None = None


def apply(share: str | None = None) -> str:
    """Make `share` (default: $LLM_TRAIN_SHARE, else group) this process's policy; children inherit it."""
    global _umask
    share = share or os.environ.get(ENV) or DEFAULT
    if share not in SHARES:
        raise ValueError(f"storage.share: expected one of {', '.join(SHARES)} (got {share!r})")
    _umask = SHARES[share]
    os.umask(_umask)
    os.environ[ENV] = share  # processes this one starts (ranks, srun tasks) follow the same policy
    return share


def current_umask() -> int:
    global _umask
    if _umask is None:
        _umask = os.umask(0)
        os.umask(_umask)
    return _umask


def file_mode(executable: bool = False) -> int:
    return (0o777 if executable else 0o666) & ~current_umask()


def dir_mode() -> int:
    mode = 0o777 & ~current_umask()
    # Directories the group writes to pass their group on to everything created inside them.
    return mode | stat.S_ISGID if mode & 0o020 else mode


def make_dirs(path: str | os.PathLike) -> Path:
    """mkdir -p, with the policy's mode (and setgid) on every directory it creates."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    path.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        os.chmod(created, dir_mode())
    return path


def fix_mode(path: str | os.PathLike, executable: bool = False) -> None:
    """A file or directory made with a private mode (mkstemp, mkdtemp) gets the policy's mode."""
    os.chmod(path, dir_mode() if Path(path).is_dir() else file_mode(executable))


def copy_file(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Copy contents and times, not the source's permission bits."""
    shutil.copyfile(src, dst)
    st = os.stat(src)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.chmod(dst, file_mode())


def world_readable(root: str | os.PathLike, limit: int = 5) -> list[Path]:
    """Up to `limit` files or directories under `root` that any user of the machine can read."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            try:
                if not p.is_symlink() and p.stat().st_mode & stat.S_IROTH:
                    found.append(p)
            except OSError:
                continue
            if len(found) >= limit:
                return found
    return found
