"""Aim on rank 0: a local repo or an `aim://host:port` server. Every Aim call of the project lives
in this package, so another tracker can sit beside it.

Failure policy: any Aim error disables Aim for the rest of the run with one warning; training and
metrics.jsonl go on (`llm-train track sync RUN_DIR` imports the jsonl later).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from llm_train.utils.atomic import atomic_write_json

log = logging.getLogger(__name__)
STATE_FILE = "aim.json"  # in the run dir: repo + run hash, so a requeued job continues the same run


def is_remote(repo: str) -> bool:
    return repo.startswith("aim://")


def open_run(repo: str, run_dir: Path, experiment: str, system_interval: int | None):
    """Continue the run dir's Aim run if it has one in this repo, else create it and remember it."""
    from aim import Run

    if not is_remote(repo):
        Path(repo).mkdir(parents=True, exist_ok=True)
    state_path = Path(run_dir) / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    run_hash = state.get("run_hash") if state.get("repo") == repo else None
    run = Run(
        run_hash=run_hash,
        repo=repo,
        experiment=None if run_hash else experiment,
        system_tracking_interval=system_interval,
        log_system_params=system_interval is not None,
    )
    if run_hash is None:
        run.name = f"{experiment}/{Path(run_dir).name}"
        atomic_write_json(state_path, {"repo": repo, "run_hash": run.hash})
    return run


def index_run(repo: str, run_hash: str) -> None:
    """Make a finished run visible to `Repo.iter_runs()`/queries (what `aim up` would do).

    Runs written by a script are only indexed by a running `aim up`/`aim storage reindex`.
    A server-side repo indexes itself.
    """
    if is_remote(repo):
        return
    from aim import Repo
    from aim.sdk.index_manager import RepoIndexManager

    RepoIndexManager.get_index_manager(Repo.from_path(repo)).index(run_hash)


def index_repo(repo: str) -> int:
    """Index every run of a local repo (like `aim storage reindex`, without deleting the index)."""
    from aim import Repo

    hashes = list(Repo.from_path(repo).list_all_runs())
    for run_hash in hashes:
        index_run(repo, run_hash)
    return len(hashes)


class AimTracker:
    def __init__(self, repo: str, run_dir: Path, experiment: str, hparams: dict, system_interval: int | None):
        self.repo = repo
        self.run = None
        try:
            self.run = open_run(repo, run_dir, experiment, system_interval)
            self.run["hparams"] = hparams
            log.info("aim: run %s in %s", self.run.hash, repo)
        except Exception as exc:  # Aim can fail in many ways (server down, locked repo): never fatal
            self._disable(exc)

    def _disable(self, exc: BaseException) -> None:
        log.warning(
            "aim: disabled for this run (%s: %s); metrics.jsonl has everything, "
            "import it later with `llm-train track sync RUN_DIR`",
            type(exc).__name__,
            exc,
        )
        self.run = None

    @property
    def active(self) -> bool:
        return self.run is not None

    def log(self, step: int, metrics: dict[str, float], context: dict[str, str]) -> None:
        if self.run is None:
            return
        try:
            for name, value in metrics.items():
                self.run.track(float(value), name=name, step=step, context=context)
        except Exception as exc:
            self._disable(exc)

    def close(self) -> None:
        if self.run is None:
            return
        run_hash = self.run.hash
        try:
            self.run.close()
            index_run(self.repo, run_hash)
        except Exception as exc:
            self._disable(exc)
        self.run = None
