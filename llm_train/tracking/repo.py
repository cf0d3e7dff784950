"""Which Aim repo a run tracks to, and when two spellings name the same repo.

One rule for the trainer, `llm-train track sync/ui` and evals: `tracking.aim_repo`, else
`<runs_dir>/aim`. A local repo is known by its absolute path: `runs/aim`, `./runs/aim/` and
`/abs/runs/aim` are one repo, so a resume or an import that spells it differently continues the
run dir's Aim run instead of starting a second one under the same name.
"""

from __future__ import annotations

from pathlib import Path

REMOTE_PREFIX = "aim://"


def is_remote(repo: str) -> bool:
    return repo.startswith(REMOTE_PREFIX)


def default_repo(aim_repo: str | None, runs_dir: str | Path) -> str:
    """The repo a run tracks to: `tracking.aim_repo`, else `<runs_dir>/aim`."""
    return aim_repo or str(Path(runs_dir) / "aim")


def repo_of_config(config: dict) -> str:
    """`default_repo` for a resolved config given as a plain dict (a run dir's config.yaml)."""
    tracking = config.get("tracking") or {}
    return default_repo(tracking.get("aim_repo"), config.get("runs_dir", "runs"))


def repo_of_run(run_dir: str | Path, aim_repo: str | None = None) -> str:
    """The repo a run dir's Aim run lives in: the one recorded in its aim.json, else
    `tracking.aim_repo`, else the runs dir's `aim/` (run dirs are <runs_dir>/<experiment>/<run-id>)."""
    from llm_train.tracking.aim_tracker import read_state

    return read_state(Path(run_dir)).get("repo") or default_repo(
        aim_repo, Path(run_dir).resolve().parent.parent
    )


def canonical(repo: str) -> str:
    """The repo's identity: an absolute path, or the server address without a trailing slash."""
    if is_remote(repo):
        return repo.rstrip("/").lower()
    return str(Path(repo).expanduser().resolve())


def same_repo(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and canonical(a) == canonical(b)
