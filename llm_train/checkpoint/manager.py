"""Save and load the full training state atomically.

Layout under `<run_dir>/checkpoints/`:
    step-<N>/              backend state (e.g. deepspeed/), model.safetensors, config.json,
                           model_config.json, trainer_state.json, rng/rank-<r>.pt
    step-<N>.ready.json    written last: a step dir without it is incomplete and never loaded
    latest                 text: the newest ready step dir name, e.g. "step-300"
A save goes to `.step-<N>.tmp/`, is fsynced and renamed, then the marker and `latest` are written
(each atomically). A crash at any point leaves `latest` naming a complete checkpoint.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import torch

from llm_train.backends.base import TrainBackend
from llm_train.checkpoint.retention import steps_to_delete
from llm_train.checkpoint.rng import rng_state, set_rng_state
from llm_train.config.runtime import CheckpointConfig
from llm_train.launch.dist_env import DistEnv
from llm_train.utils.atomic import atomic_replace_dir, atomic_write_json, atomic_write_text, fsync_dir

log = logging.getLogger(__name__)
_STEP = re.compile(r"^step-(\d+)$")


class Stateful(Protocol):
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


def ready_steps(ckpt_dir: Path) -> list[int]:
    """Steps whose checkpoint is complete (dir and ready marker both present)."""
    out = []
    for marker in Path(ckpt_dir).glob("step-*.ready.json"):
        m = _STEP.match(marker.name.removesuffix(".ready.json"))
        if m and (marker.parent / f"step-{m.group(1)}").is_dir():
            out.append(int(m.group(1)))
    return sorted(out)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint dir of a run (what evals and export should read)."""
    ckpt = Path(run_dir) / "checkpoints"
    pointer = ckpt / "latest"
    if pointer.is_file():
        name = pointer.read_text().strip()
        if (ckpt / f"{name}.ready.json").is_file() and (ckpt / name).is_dir():
            return ckpt / name
    steps = ready_steps(ckpt)  # pointer missing or stale: fall back to the markers
    return ckpt / f"step-{steps[-1]}" if steps else None


def _barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


class CheckpointManager:
    def __init__(
        self,
        run_dir: Path,
        cfg: CheckpointConfig,
        backend: TrainBackend,
        dist: DistEnv,
        stateful: Mapping[str, Stateful],
        meta: Mapping[str, object] | None = None,
    ):
        self.dir = Path(run_dir) / "checkpoints"
        self.cfg, self.backend, self.dist = cfg, backend, dist
        self.stateful = stateful  # name -> object; saved in trainer_state.json (same on every rank)
        self.meta = dict(meta or {})
        self.last_saved_step: int | None = None

    def latest_step(self) -> int | None:
        path = latest_checkpoint(self.dir.parent)
        return int(path.name.split("-")[1]) if path else None

    def load(self, step: int | None = None, path: Path | None = None) -> bool:
        """Restore backend + trainer state from `path`, or step N, or the latest ready step."""
        if path is None:
            step = self.latest_step() if step is None else step
            if step is None:
                return False
            path = self.dir / f"step-{step}"
            if not (self.dir / f"step-{step}.ready.json").is_file():
                raise FileNotFoundError(f"checkpoint {path} is not complete (no ready marker)")
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
        """Collective: every rank calls it. Returns the final checkpoint dir."""
        final_dir = self.dir / f"step-{step}"
        tmp = self.dir / f".step-{step}.tmp"
        t0 = time.perf_counter()
        if self.dist.is_main:
            self.dir.mkdir(parents=True, exist_ok=True)
            for stale in self.dir.glob(".step-*.tmp"):  # left by a crash mid-save
                shutil.rmtree(stale, ignore_errors=True)
        _barrier()
        self.backend.save(tmp)
        (tmp / "rng").mkdir(parents=True, exist_ok=True)
        torch.save(rng_state(), tmp / "rng" / f"rank-{self.dist.rank}.pt")
        if self.dist.is_main:
            state = {name: obj.state_dict() for name, obj in self.stateful.items()}
            atomic_write_json(tmp / "trainer_state.json", {"step": step, **state})
        _barrier()
        if self.dist.is_main:
            atomic_replace_dir(tmp, final_dir)
            marker = {
                "step": step,
                "final": final,
                "time": time.time(),
                "backend": self.backend.name,
                **self.meta,
            }
            atomic_write_json(self.dir / f"step-{step}.ready.json", marker)
            atomic_write_text(self.dir / "latest", f"step-{step}\n")
            self._apply_retention()
        _barrier()
        self.last_saved_step = step
        log.info("checkpoint step %d saved to %s in %.1fs", step, final_dir, time.perf_counter() - t0)
        return final_dir

    def _apply_retention(self) -> None:
        for step in steps_to_delete(ready_steps(self.dir), self.cfg.keep_last, self.cfg.keep_every):
            # Marker first: a half-deleted dir without marker is simply incomplete.
            (self.dir / f"step-{step}.ready.json").unlink(missing_ok=True)
            fsync_dir(self.dir)
            shutil.rmtree(self.dir / f"step-{step}", ignore_errors=True)


def _load_json(path: Path) -> dict:
    import json

    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
