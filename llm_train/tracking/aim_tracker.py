"""Aim on rank 0: a local repo or an `aim://host:port` server. Every Aim call of the project lives
in this package, so another tracker can sit beside it.

Failure policy: any Aim error disables Aim for the rest of the run with one warning; training and
metrics.jsonl go on (`llm-train track sync RUN_DIR` imports the jsonl later).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from llm_train import storage
from llm_train.tracking.repo import canonical, is_remote, same_repo
from llm_train.tracking.ui_guard import is_loopback_name
from llm_train.utils.atomic import atomic_write_json

log = logging.getLogger(__name__)
STATE_FILE = "aim.json"  # in the run dir: repo + run hash, so a requeued job continues the same run


def read_state(run_dir: Path) -> dict:
    path = Path(run_dir) / STATE_FILE
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        log.warning("aim: %s is not JSON; the run dir's Aim run is started anew", path)
        return {}


def open_run(repo: str, run_dir: Path, experiment: str, system_interval: int | None, writer: bool = False):
    """Continue the run dir's Aim run if it has one in this repo, else create it and remember it.

    The repo is compared by identity (`repo.canonical`), not by spelling. `writer=True` is the
    trainer: a lock left on the run by this run dir's previous trainer (killed on another node,
    where Aim cannot tell that the process is gone) is taken over, since a run dir has one trainer
    at a time. Any other holder (an eval pass logging into the run) is waited for as usual.
    """
    from aim import Run
    from aim.sdk.errors import MissingRunError

    if not is_remote(repo):
        repo = canonical(repo)
        storage.make_dirs(repo)
    state = read_state(run_dir)
    run_hash = state.get("run_hash") if same_repo(state.get("repo"), repo) else None
    run = None
    if run_hash:
        force = writer and bool(state.get("lock")) and state["lock"] == _lock_holder(repo, run_hash)
        if force:
            log.warning("aim: taking over run %s from this run dir's previous trainer", run_hash)
        try:
            run = Run(
                run_hash=run_hash,
                repo=repo,
                force_resume=force,
                system_tracking_interval=system_interval,
                log_system_params=system_interval is not None,
            )
        except MissingRunError:
            log.warning("aim: run %s of %s is no longer in %s; starting a new one", run_hash, run_dir, repo)
    if run is None:
        run = Run(
            repo=repo,
            experiment=experiment,
            system_tracking_interval=system_interval,
            log_system_params=system_interval is not None,
        )
        # Remembered before anything else can fail, so a retry continues this run.
        atomic_write_json(Path(run_dir) / STATE_FILE, {"repo": repo, "run_hash": run.hash})
        run.name = f"{experiment}/{Path(run_dir).name}"
    if writer:
        atomic_write_json(
            Path(run_dir) / STATE_FILE,
            {"repo": repo, "run_hash": run.hash, "lock": _lock_holder(repo, run.hash)},
        )
    return run


def _lock_holder(repo: str, run_hash: str) -> str | None:
    """Who holds the run's lock, as Aim writes it (`<machine id>-<pid>-<time>`); None if unlocked."""
    if is_remote(repo):
        return None
    try:
        return (Path(repo) / ".aim" / "locks" / f"{run_hash}.softlock").read_text().strip() or None
    except OSError:
        return None


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
        if is_remote(repo) and not is_loopback_name(repo.removeprefix("aim://").rsplit(":", 1)[0]):
            log.warning(
                "aim: %s has no login: anyone who can reach it can read, change and delete these runs "
                "(prefer the local repo and `llm-train track sync`, or a server on the job's own loopback)",
                repo,
            )
        try:
            self.run = open_run(repo, run_dir, experiment, system_interval, writer=True)
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
