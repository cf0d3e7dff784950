"""Save and load the full training state atomically, in the run dir's `checkpoints/`.

The layout (step dirs, ready markers, `latest`) is the run-dir contract in `llm_train/run_dir.py`.
A save goes to `.step-<N>.tmp/`, is fsynced and renamed, then the marker and `latest` are written
(each atomically). A crash at any point leaves `latest` naming a complete checkpoint.

Asynchronous saves (a backend whose `save` returns True, e.g. megatron with
`checkpoint.async_save`): `save` returns once the state is handed to background writers; the rename,
marker, `latest` and retention are the finalize step (`finalize`), run only after every rank's
writes have finished. At most one save is in flight: the next `save`, any `load` and `close`
wait for it first. A crash while it is in flight leaves `latest` at the previous complete one.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from llm_train.backends.base import SaveState, TrainBackend
from llm_train.checkpoint.retention import steps_to_delete
from llm_train.checkpoint.rng import rng_state, set_rng_state
from llm_train.config.runtime import CheckpointConfig
from llm_train.launch.dist_env import DistEnv
from llm_train.run_dir import RunDir, step_name
from llm_train.utils.atomic import atomic_replace_dir, atomic_write_json, atomic_write_text, fsync_dir

log = logging.getLogger(__name__)


class Stateful(Protocol):
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


def _barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


@dataclass
class _Save:
    step: int
    final: bool
    started: float  # perf_counter at the save call


class CheckpointManager:
    def __init__(
        self,
        run_dir: Path,
        cfg: CheckpointConfig,
        backend: TrainBackend,
        dist: DistEnv,
        stateful: Mapping[str, Stateful],
        meta: Mapping[str, object] | None = None,
        on_saved: Callable[[int, Path], None] | None = None,
    ):
        self.run = RunDir(run_dir)
        self.dir = self.run.checkpoints
        self.cfg, self.backend, self.dist = cfg, backend, dist
        self.stateful = stateful  # name -> object; saved in trainer_state.json (same on every rank)
        self.meta = dict(meta or {})
        self.on_saved = on_saved  # called with (step, dir) once a checkpoint is published
        self.last_saved_step: int | None = None
        self.pending: _Save | None = None  # an asynchronous save not yet published

    def latest_step(self) -> int | None:
        return self.run.latest_step()

    def load(self, step: int | None = None, path: Path | None = None) -> bool:
        """Restore backend + trainer state from `path`, or step N, or the latest ready step."""
        self.finalize(blocking=True)  # an in-flight save may be the one to load (rollback)
        if path is None:
            step = self.latest_step() if step is None else step
            if step is None:
                return False
            path = self.run.checkpoint(step)
        path = Path(path)
        t0 = time.perf_counter()
        self.backend.load(path)
        state = _load_json(path / "trainer_state.json")
        for name, obj in self.stateful.items():
            if name in state:
                obj.load_state_dict(state[name])
        rng_file = path / "rng" / f"rank-{self.dist.rank}.pt"
        if rng_file.is_file():
            set_rng_state(torch.load(rng_file, weights_only=True))
        else:
            log.warning(
                "checkpoint %s has no RNG state for rank %d (world size changed?)", path, self.dist.rank
            )
        self.last_saved_step = state.get("step")
        log.info("resumed from %s in %.1fs", path, time.perf_counter() - t0)
        return True

    def save(self, step: int, final: bool = False) -> Path:
        """Collective: every rank calls it. Returns the checkpoint dir, which exists once published
        (on return for a synchronous save, after `finalize` for an asynchronous one)."""
        # One save in flight at a time; this also keeps its .tmp dir from the cleanup below.
        self.finalize(blocking=True)
        t0 = time.perf_counter()
        tmp = self.run.tmp_dir(step)
        if self.dist.is_main:
            self.dir.mkdir(parents=True, exist_ok=True)
            for stale in self.dir.glob(".step-*.tmp"):  # left by a crash mid-save
                shutil.rmtree(stale, ignore_errors=True)
        _barrier()
        in_background = self.backend.save(tmp) is SaveState.IN_BACKGROUND
        # Trainer state and RNG are taken now, with the backend state they belong to.
        (tmp / "rng").mkdir(parents=True, exist_ok=True)
        torch.save(rng_state(), tmp / "rng" / f"rank-{self.dist.rank}.pt")
        if self.dist.is_main:
            state = {name: obj.state_dict() for name, obj in self.stateful.items()}
            atomic_write_json(tmp / "trainer_state.json", {"step": step, **state})
        _barrier()
        self.last_saved_step = step
        save = _Save(step, final, t0)
        if in_background:
            self.pending = save
            log.info(
                "checkpoint step %d: writing in the background (%.1fs blocked)",
                step,
                time.perf_counter() - t0,
            )
            return self.run.step_dir(step)
        return self._publish(save)

    def finalize(self, blocking: bool = False) -> Path | None:
        """Collective. Publish the pending asynchronous save once every rank has written it
        (waiting for that when `blocking`). Returns the published dir, or None."""
        if self.pending is None:
            return None
        if not self.backend.finalize_saves(blocking):
            return None
        save, self.pending = self.pending, None
        return self._publish(save)

    def close(self) -> None:
        """Collective. Publish any save still being written (end of training, before exit)."""
        self.finalize(blocking=True)

    def _publish(self, save: _Save) -> Path:
        """Make a fully written `.step-N.tmp` visible: rename, ready marker, `latest`, retention."""
        final_dir = self.run.step_dir(save.step)
        if self.dist.is_main:
            atomic_replace_dir(self.run.tmp_dir(save.step), final_dir)
            marker = {
                "step": save.step,
                "final": save.final,
                "time": time.time(),
                "backend": self.backend.name,
                **self.meta,
            }
            atomic_write_json(self.run.ready_marker(save.step), marker)
            atomic_write_text(self.run.latest_pointer, f"{step_name(save.step)}\n")
            self._apply_retention()
        _barrier()
        log.info(
            "checkpoint step %d saved to %s in %.1fs",
            save.step,
            final_dir,
            time.perf_counter() - save.started,
        )
        if self.on_saved is not None:
            self.on_saved(save.step, final_dir)
        return final_dir

    def _apply_retention(self) -> None:
        for step in steps_to_delete(self.run.ready_steps(), self.cfg.keep_last, self.cfg.keep_every):
            # Marker first: a half-deleted dir without marker is simply incomplete.
            self.run.ready_marker(step).unlink(missing_ok=True)
            fsync_dir(self.dir)
            shutil.rmtree(self.run.step_dir(step), ignore_errors=True)


def _load_json(path: Path) -> dict:
    import json

    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
