"""Rank 0 writes metrics.jsonl (always) and Aim (if enabled and reachable), and prints progress."""

from __future__ import annotations

import logging

from llm_train.trainer.callbacks import Callback

log = logging.getLogger("llm_train.progress")


def aim_repo(cfg) -> str:
    from llm_train.tracking.repo import default_repo

    return default_repo(cfg.tracking.aim_repo, cfg.runs_dir)


class TrackingCallback(Callback):
    name = "tracking"

    def __init__(self):
        self.jsonl = None
        self.aim = None

    def pre_train(self, trainer) -> None:
        if not trainer.dist.is_main:
            return
        from llm_train.tracking import AimTracker, JsonlWriter
        from llm_train.tracking.hparams import run_hparams

        cfg = trainer.cfg
        self.jsonl = JsonlWriter(trainer.run_dir / "metrics.jsonl")
        if cfg.tracking.aim:
            interval = cfg.tracking.system_metrics_interval_s if cfg.tracking.system_metrics else None
            hparams = run_hparams(cfg.model_dump(mode="json"), trainer.config_sha256)
            self.aim = AimTracker(aim_repo(cfg), trainer.run_dir, cfg.name, hparams, interval)

    def log_metrics(self, trainer, step, metrics, context) -> None:
        if self.jsonl is None:
            return
        self.jsonl.log(step, metrics, context)
        if self.aim is not None:
            self.aim.log(step, metrics, context)
        if context.get("subset") == "train":
            log.info(
                "step %d/%d | loss %.4f | lr %.3g | grad norm %.3f | %.0f tok/s | %.2f s/step%s",
                step,
                trainer.total_steps,
                metrics["loss"],
                metrics["lr"],
                metrics["grad_norm"],
                metrics.get("tokens_per_s", 0.0),
                metrics.get("step_time_s", 0.0),
                " | skipped" if metrics.get("skipped") else "",
            )
        elif context.get("subset") == "valid":  # other records (energy) are written, not printed
            extra = f" | bpb {metrics['bpb']:.4f}" if "bpb" in metrics else ""
            log.info(
                "valid %s step %d | loss %.4f%s", context.get("lang", "all"), step, metrics["loss"], extra
            )

    def log_event(self, trainer, step, event, fields) -> None:
        if self.jsonl is not None:
            self.jsonl.event(step, event, **fields)
        if trainer.dist.is_main:
            log.info("event %s at step %d %s", event, step, fields or "")

    def close(self, trainer) -> None:
        if self.aim is not None:
            self.aim.close()
        if self.jsonl is not None:
            self.jsonl.close()
