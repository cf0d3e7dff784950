"""Hang watchdog: a rank whose steps stop finishing dumps every thread's stack and exits to be requeued.

Every rank beats after each step (and around checkpoints and validation). A thread per rank checks
the beat; when no step finished within `train.hang_timeout_s` (default: 10 x the median step time,
at least `train.hang_timeout_floor_s`), it writes all Python thread stacks (faulthandler) to
`RUN_DIR/hangs/<start>-step-<N>/rank-<r>.txt` and exits the process with the requeue code, so Slurm
runs the job again from the last checkpoint instead of burning the allocation until its time limit.
Every rank of a hung job is stuck (the others wait for the hung one in a collective), so every rank's
watchdog fires and the folder holds one file per rank. Armed after the first step: start-up (process
groups, compilation) has its own timeouts.

On CUDA, NCCL's own watchdog is set to fire later than this one (`nccl_watchdog_env`) and to leave
its flight-recorder trace in the same folder, so the Python stacks come first and both are kept.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import socket
import statistics
import threading
import time
from collections import deque

import torch

from llm_train import storage
from llm_train.trainer.callbacks import Callback
from llm_train.trainer.exit_codes import INTERRUPTED

log = logging.getLogger(__name__)
# A checkpoint may take much longer than a step (a large model to a parallel filesystem).
CHECKPOINT_FACTOR = 10


def nccl_watchdog_env(timeout_s: float, hangs_dir: str) -> dict[str, str]:
    """NCCL's heartbeat monitor and flight recorder, a minute behind our watchdog."""
    return {
        "TORCH_NCCL_ASYNC_ERROR_HANDLING": "3",
        "TORCH_NCCL_ENABLE_MONITORING": "1",
        "TORCH_NCCL_HEARTBEAT_TIMEOUT_SEC": str(int(timeout_s) + 60),
        "TORCH_NCCL_TRACE_BUFFER_SIZE": "2000",
        "TORCH_NCCL_DUMP_ON_TIMEOUT": "1",
        "TORCH_NCCL_DEBUG_INFO_TEMP_FILE": f"{hangs_dir}/nccl-trace-rank-",
    }


class HangWatchdog(Callback):
    name = "hang_watchdog"

    def __init__(self):
        self.step_times: deque[float] = deque(maxlen=50)
        self.last_beat: float | None = None
        self.step = 0
        self.in_checkpoint = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def pre_train(self, trainer) -> None:
        t = trainer.cfg.train
        self.fixed, self.floor = t.hang_timeout_s, t.hang_timeout_floor_s
        self.run, self.rank, self.job_id = trainer.run, trainer.dist.rank, trainer.dist.job_id
        self.session = _shared_start_time()
        self.step = trainer.step
        if torch.cuda.is_available():
            os.environ.update(nccl_watchdog_env(self.timeout(), str(self.run.hangs)))
        self._thread = threading.Thread(target=self._watch, name="llm-train-hang-watchdog", daemon=True)
        self._thread.start()

    def timeout(self) -> float:
        if self.fixed:
            return self.fixed
        median = statistics.median(self.step_times) if self.step_times else 0.0
        return max(self.floor, 10 * median)

    def _beat(self) -> None:
        self.last_beat = time.monotonic()

    def post_step(self, trainer, step, result, metrics) -> None:
        if metrics.get("step_time_s"):
            self.step_times.append(metrics["step_time_s"])
        self.step = step
        self._beat()

    def log_metrics(self, trainer, step, metrics, context) -> None:
        self._beat()  # validation batches finish one by one

    def pre_checkpoint(self, trainer, step) -> None:
        self.in_checkpoint = True
        self._beat()

    def post_checkpoint_saved(self, trainer, step, path) -> None:
        self.in_checkpoint = False
        self._beat()

    def close(self, trainer) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(min(5.0, max(0.5, self.timeout() / 20))):
            if self.last_beat is None:
                continue
            limit = self.timeout() * (CHECKPOINT_FACTOR if self.in_checkpoint else 1)
            idle = time.monotonic() - self.last_beat
            if idle > limit:
                self._fire(idle, limit)

    def _fire(self, idle: float, limit: float) -> None:
        folder = self.run.hangs / f"{self.session}-step-{self.step + 1}"
        storage.make_dirs(folder)
        with open(folder / f"rank-{self.rank}.txt", "w", encoding="utf-8") as out:
            out.write(
                f"rank {self.rank} on {socket.gethostname()} (pid {os.getpid()}): no step finished for "
                f"{idle:.0f} s (timeout {limit:.0f} s) after step {self.step}\n\n"
            )
            out.flush()
            faulthandler.dump_traceback(out, all_threads=True)
        log.error(
            "hang: no step for %.0f s after step %d; stacks in %s; exiting to be requeued",
            idle,
            self.step,
            folder,
        )
        if self.rank == 0:
            # The job script requeues on this marker when srun reports a killed rank instead of 124.
            self.run.mark_interrupted(self.step, None, self.job_id, reason="hang")
        logging.shutdown()
        os._exit(INTERRUPTED)


def _shared_start_time() -> str:
    """One name for this attempt's hang folder on every rank: rank 0's start time."""
    stamp = [time.strftime("%Y%m%d-%H%M%S")]
    if torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
        torch.distributed.broadcast_object_list(stamp, src=0)
    return stamp[0]
