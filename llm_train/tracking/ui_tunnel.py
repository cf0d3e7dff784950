"""What to type on a laptop to open a UI served on this machine: an ssh forward, then a URL.

A pure function of the environment, so each case (login node over ssh, compute node in a Slurm
job, unknown) is tested by its text. The socket lives on this very node: a site's round-robin login
alias may land on another login node, so the command names this node.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

LAPTOP_PORT = 43800


@dataclass(frozen=True)
class Tunnel:
    command: str  # the laptop's ssh command
    url: str  # what the laptop's browser opens
    notes: tuple[str, ...]  # what to substitute where this machine could not know


def this_node() -> str:
    """This node's name, fully qualified when DNS knows it."""
    name = socket.gethostname()
    fqdn = socket.getfqdn(name)
    return fqdn if "." in fqdn and not fqdn.startswith("localhost") else name


def tunnel(
    target: str,
    env: Mapping[str, str] | None = None,
    node: str | None = None,
    user: str | None = None,
    port: int = LAPTOP_PORT,
) -> Tunnel:
    """`target` is what ssh forwards to on this node: a socket path or `127.0.0.1:PORT`."""
    env = os.environ if env is None else env
    node = node or this_node()
    user = user or getpass.getuser()
    forward = f"-L {port}:{target}"
    url = f"http://127.0.0.1:{port}"
    if env.get("SLURM_JOB_ID") and env.get("SLURMD_NODENAME"):
        compute = env["SLURMD_NODENAME"]
        login = env.get("SLURM_SUBMIT_HOST")
        notes = [
            f"{compute} is the compute node of job {env['SLURM_JOB_ID']}; ssh reaches it through the login "
            "node (-J) while the job runs there",
        ]
        if not login:
            notes.append("replace LOGIN-NODE with the login node you ssh to")
        return Tunnel(
            f"ssh -N {forward} -J {user}@{login or 'LOGIN-NODE'} {user}@{compute}", url, tuple(notes)
        )
    notes = []
    if env.get("SSH_CONNECTION"):
        notes.append(
            f"{node} is this login node's own name: the tunnel must reach this node, so use it rather "
            "than the site's round-robin login address (or your ~/.ssh/config alias for this node)"
        )
    else:
        notes.append(
            f"{node} is this machine's name as it knows it; replace it with the address your laptop "
            "uses to ssh to this machine"
        )
    notes.append(f"{port} can be any free port on your laptop")
    return Tunnel(f"ssh -N {forward} {user}@{node}", url, tuple(notes))
