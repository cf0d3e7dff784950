"""Test-only trainer callbacks, loaded through the config (`train.callbacks=["tests.hooks:Name"]`,
with the repository on PYTHONPATH). Never used by product code; each is switched on by its
environment variable so a requeued job (same config) can behave differently from the first attempt.

- RecordSamples: each rank appends the global indices and token digests of the samples it reads
  per step to RUN_DIR/test-samples/rank-<r>.jsonl (the data position across a layout change).
- StopAt: LLM_TRAIN_TEST_STOP_AT=N stops the run after step N as SIGUSR1 would (checkpoint, exit 124).
- SleepInStep: LLM_TRAIN_TEST_SLEEP="RANK:STEP:SECONDS" makes one rank sleep inside the forward pass
  of that step, on the first attempt only (Slurm's SLURM_RESTART_COUNT unset or 0): a hang.
- SlowForward: LLM_TRAIN_TEST_SLOW="RANK:SECONDS" adds that much to every forward pass of one rank:
  a straggler.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time

from llm_train.trainer.callbacks import Callback


def _model(trainer):
    backend = trainer.backend
    return backend.engine.module if backend.name == "deepspeed" else backend.gpt_chunks[0]


class RecordSamples(Callback):
    name = "record_samples"

    def pre_step(self, trainer, step) -> None:
        batches = trainer.batches
        real = batches.next_step

        def recording():
            start = batches.consumed_samples + batches.dp_rank * batches.per_rank
            micro_batches = real()
            rows = []
            for mb in micro_batches:
                for tokens in mb["tokens"]:
                    rows.append([start + len(rows), hashlib.sha1(tokens.numpy().tobytes()).hexdigest()[:16]])
            out = trainer.run.path / "test-samples" / f"rank-{trainer.dist.rank}.jsonl"
            out.parent.mkdir(exist_ok=True)
            with open(out, "a") as handle:
                record = {
                    "step": step + 1,
                    "dp_rank": batches.dp_rank,
                    "dp": batches.dp_size,
                    "samples": rows,
                }
                handle.write(json.dumps(record) + "\n")
            batches.next_step = real
            return micro_batches

        batches.next_step = recording


class StopAt(Callback):
    name = "stop_at"

    def post_step(self, trainer, step, result, metrics) -> None:
        if str(step) == os.environ.get("LLM_TRAIN_TEST_STOP_AT"):
            trainer.stop.received = signal.SIGUSR1


def _first_attempt() -> bool:
    return os.environ.get("SLURM_RESTART_COUNT", "0") in ("", "0")


class SleepInStep(Callback):
    name = "sleep_in_step"

    def pre_train(self, trainer) -> None:
        spec = os.environ.get("LLM_TRAIN_TEST_SLEEP")
        if not spec or not _first_attempt():
            return
        rank, step, seconds = (float(x) for x in spec.split(":"))
        if trainer.dist.rank != int(rank):
            return
        self.step, self.seconds, self.done = int(step), seconds, False
        _model(trainer).register_forward_pre_hook(self._maybe_sleep)
        self.trainer = trainer

    def _maybe_sleep(self, module, inputs) -> None:
        if not self.done and self.trainer.step + 1 == self.step:
            self.done = True
            time.sleep(self.seconds)


class SlowForward(Callback):
    name = "slow_forward"

    def pre_train(self, trainer) -> None:
        spec = os.environ.get("LLM_TRAIN_TEST_SLOW")
        if not spec:
            return
        rank, seconds = spec.split(":")
        if trainer.dist.rank == int(rank):
            _model(trainer).register_forward_pre_hook(lambda module, inputs: time.sleep(float(seconds)))
