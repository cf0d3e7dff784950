"""Stragglers: every `train.straggler_every` steps, each rank's forward time against the median.

A rank on a slow node (thermal throttling, a bad GPU, a noisy neighbour) makes every other rank wait
in the gradient reduction, so the job runs at the slowest rank's pace without failing. The forward
passes hold no data-parallel collective: their time per rank (the backend's `forward_clock`) points
at the slow host. A rank slower than `train.straggler_factor` x the median is written to
metrics.jsonl as a `straggler` event with its host; `llm-train jobs RUN_DIR` lists those hosts.
"""

from __future__ import annotations

import logging
import socket
import statistics

import torch

from llm_train.trainer.callbacks import Callback

log = logging.getLogger(__name__)


class StragglerCallback(Callback):
    name = "stragglers"

    def pre_train(self, trainer) -> None:
        t = trainer.cfg.train
        self.every, self.factor = t.straggler_every, t.straggler_factor
        self.host = socket.gethostname()
        self.active = (
            bool(self.every) and torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1
        )
        trainer.backend.forward_clock.take()  # start counting at the first step

    def post_step(self, trainer, step, result, metrics) -> None:
        if not self.active or step % self.every:
            return
        mine = (trainer.dist.rank, self.host, trainer.backend.forward_clock.take() / self.every)
        ranks: list = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(ranks, mine)
        median = statistics.median(seconds for _, _, seconds in ranks)
        if median <= 0:
            return
        metrics["forward_s_max_over_median"] = max(seconds for _, _, seconds in ranks) / median
        for rank, host, seconds in ranks:
            if seconds > self.factor * median:
                if trainer.dist.is_main:
                    log.warning(
                        "straggler: rank %d on %s takes %.3f s per step in forward, %.1fx the median %.3f s",
                        rank,
                        host,
                        seconds,
                        seconds / median,
                        median,
                    )
                trainer.event(
                    "straggler",
                    rank=rank,
                    host=host,
                    forward_s=round(seconds, 6),
                    median_s=round(median, 6),
                    ratio=round(seconds / median, 3),
                )
