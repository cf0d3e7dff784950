"""The training loop: build, resume, then step -> log -> validate -> checkpoint until done.

Everything backend-specific is behind `TrainBackend`; everything optional is a callback.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch

from llm_train.backends import build_backend
from llm_train.backends.base import run_step
from llm_train.checkpoint import CheckpointManager
from llm_train.config.loader import ResolvedConfig
from llm_train.data.loader import PackedData
from llm_train.data.mixture import load_mixture
from llm_train.errors import ConfigError, ConfigProblem, TrainingInterrupted
from llm_train.launch.dist_env import DistEnv
from llm_train.run_dir import RunDir
from llm_train.trainer.callbacks import Callback
from llm_train.trainer.energy import EnergyCallback
from llm_train.trainer.exit_codes import TrainingDiverged
from llm_train.trainer.lr_schedule import lr_at, total_steps
from llm_train.trainer.plugins import load_callbacks
from llm_train.trainer.resume import layout_record, plan_resume
from llm_train.trainer.signals import StopOnSignal
from llm_train.trainer.spike import SpikePolicy
from llm_train.trainer.stragglers import StragglerCallback
from llm_train.trainer.throughput import ThroughputCallback
from llm_train.trainer.tracking_callback import TrackingCallback
from llm_train.trainer.watchdog import HangWatchdog

log = logging.getLogger(__name__)


class Trainer:
    def __init__(
        self, resolved: ResolvedConfig, run_dir: Path, dist: DistEnv, callbacks: list[Callback] = ()
    ):
        self.cfg, self.config_sha256 = resolved.config, resolved.sha256
        if not self.cfg.data.mixture:
            raise ConfigError([ConfigProblem(None, "data.mixture", "expected the path of a mixture.yaml")])
        self.run, self.dist = RunDir(run_dir), dist
        self.run_dir = self.run.path
        self.total_steps = total_steps(self.cfg.train)
        self.step = 0
        self.spike = SpikePolicy(self.cfg.train.spike)
        self.stop = StopOnSignal()
        self.callbacks = [
            TrackingCallback(),
            ThroughputCallback(),
            HangWatchdog(),
            StragglerCallback(),
            EnergyCallback(),
            *load_callbacks(self.cfg.train.callbacks),
            *callbacks,
        ]
        self.backend = build_backend(self.cfg, dist)  # resolves the layout: refused here if it cannot run
        # What the checkpoint to resume from allows (layout, optimizer, batch): refused before any load.
        self.resume_plan = plan_resume(self.run, self.cfg, self.backend.layout, torch.cuda.is_available())
        self.data_samples = 0

    def state_dict(self) -> dict:
        record = layout_record(self.cfg, self.backend.layout, torch.cuda.is_available(), self.data_samples)
        return {"step": self.step, "written_with": record}

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])

    def setup(self) -> None:
        cfg = self.cfg
        self.backend.build()
        self.device = (
            torch.device("cuda", torch.cuda.current_device())
            if torch.cuda.is_available()
            else torch.device("cpu")
        )
        data = PackedData(cfg, load_mixture(cfg.data.mixture), self.run.data_index)
        self.batches = data.train(
            self.total_steps, self.backend.dp_rank, self.backend.dp_size, self.resume_plan.data_samples
        )
        self.data_samples = len(self.batches.dataset)
        self.valid_sets = (
            data.valid(self.backend.dp_rank, self.backend.dp_size) if cfg.train.eval_every else []
        )
        stateful = {"trainer": self, "data": self.batches, "spike": self.spike}
        stateful.update({cb.name: cb for cb in self.callbacks})
        meta = {"config_sha256": self.config_sha256}
        self.checkpointer = CheckpointManager(
            self.run_dir, cfg.checkpoint, self.backend, self.dist, stateful, meta, on_saved=self._saved
        )

    def fit(self) -> None:
        self.stop.install()
        try:
            if self.dist.is_main:
                self.run.clear_interrupted()
            self.setup()
            self._hook("pre_train")
            self._resume()
            while self.step < self.total_steps:
                self._train_step()
                self.checkpointer.finalize(blocking=False)  # publish a background save once written
                if self.spike.rollback_due:
                    self._rollback()
                    continue
                stop = self.stop.should_stop(self.device)
                every = self.cfg.train.eval_every
                if every and self.step % every == 0:
                    self.validate()
                if self._checkpoint_due() or (stop and self.cfg.checkpoint.save_on_signal):
                    self._save()
                if stop:
                    self.checkpointer.close()  # the signal's save must be published before exit
                    self.event("interrupted", signal=self.stop.received)
                    if self.dist.is_main:
                        self.run.mark_interrupted(self.step, self.stop.received, self.dist.job_id)
                    raise TrainingInterrupted(
                        f"stopped on a signal after step {self.step}; requeue to resume"
                    )
            if self.cfg.checkpoint.save_final and self.checkpointer.last_saved_step != self.step:
                self._save(final=True)
            self.checkpointer.close()
            self.event("finished")
        except BaseException as exc:
            self._hook("on_error", exc)
            raise
        finally:
            self._hook("close")
            self.stop.uninstall()
            self.backend.close()

    def _train_step(self) -> None:
        self._hook("pre_step", self.step)
        t0 = time.perf_counter()
        micro_batches = self.batches.next_step()
        lr = lr_at(self.step, self.cfg.train, self.total_steps)
        # The trainer's spike policy decides whether the update is applied, on every backend.
        result = run_step(self.backend, micro_batches, lr, self.spike.is_bad)
        self.step += 1
        metrics = {
            "loss": result.loss,
            "grad_norm": result.grad_norm,
            "lr": result.lr,
            "skipped": float(result.skipped),
            "step_time_s": time.perf_counter() - t0,
            "consumed_samples": float(self.batches.consumed_samples),
        }
        self.spike.observe(self.step, result.loss, result.skipped)
        if result.skipped:
            self.event(
                "skip", loss=result.loss, grad_norm=result.grad_norm, bad_steps=len(self.spike.bad_steps)
            )
        self._hook("post_step", self.step, result, metrics)
        if self.step % self.cfg.train.log_every == 0 or self.step == self.total_steps or result.skipped:
            self._hook("log_metrics", self.step, metrics, {"subset": "train"})

    @torch.no_grad()
    def validate(self) -> None:
        for vs in self.valid_sets:
            nll, count = 0.0, 0
            for micro_batches in vs.batches:
                s, n = self.backend.eval_loss(micro_batches)
                nll, count = nll + s, count + n
            metrics = {"loss": nll / max(count, 1)}
            if vs.num_bytes:
                metrics["bpb"] = nll / math.log(2) / vs.num_bytes
            context = {"subset": "valid"} if vs.name == "all" else {"subset": "valid", "lang": vs.name}
            self._hook("log_metrics", self.step, metrics, context)

    def _checkpoint_due(self) -> bool:
        every = self.cfg.checkpoint.every_steps
        return bool(every) and self.step % every == 0

    def _save(self, final: bool = False) -> None:
        self._hook("pre_checkpoint", self.step)
        self.checkpointer.save(self.step, final=final)  # `_saved` runs once it is published

    def _saved(self, step: int, path: Path) -> None:
        self._hook("post_checkpoint_saved", step, path)

    def _resume(self) -> None:
        resume = self.cfg.train.resume
        if resume == "never":
            self.event("start")
            return
        loaded = self.checkpointer.load() if resume == "auto" else self.checkpointer.load(path=Path(resume))
        self.event("resume" if loaded else "start", consumed_samples=self.batches.consumed_samples)
        plan = self.resume_plan
        if loaded and (plan.changes or plan.batch_change):
            log.warning(
                "resumed step %d with a new layout (%s); the data continues at sample %d of the same sequence",
                self.step,
                plan.describe(),
                self.batches.consumed_samples,
            )
            changes = {k: list(v) for k, v in plan.changes.items()}
            if plan.batch_change:
                changes["global_batch_size"] = list(plan.batch_change)
            self.event("layout_change", changes=changes, consumed_samples=self.batches.consumed_samples)

    def _rollback(self) -> None:
        position, rollbacks = self.batches.consumed_samples, self.spike.rollbacks + 1
        bad_at = self.step
        if rollbacks > self.cfg.train.spike.max_rollbacks:
            raise TrainingDiverged(
                f"{len(self.spike.bad_steps)} bad steps at step {bad_at} after {rollbacks - 1} rollbacks"
            )
        if not self.checkpointer.load():
            raise TrainingDiverged(f"bad steps at step {bad_at} and no checkpoint to roll back to")
        # Skip the data that led to the bad steps instead of replaying it.
        self.batches.consumed_samples = position + self.cfg.train.spike.skip_samples_on_rollback
        self.spike.after_rollback(rollbacks)
        self.event(
            "rollback", from_step=bad_at, rollbacks=rollbacks, consumed_samples=self.batches.consumed_samples
        )

    def event(self, name: str, **fields) -> None:
        self._hook("log_event", self.step, name, fields)

    def _hook(self, name: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, name)(self, *args)
