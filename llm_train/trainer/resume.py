"""Resuming a run dir, possibly with another layout: checked before any rank loads a checkpoint.

The newest ready checkpoint's `trainer_state.json` records how it was written (backend, parallel
layout, optimizer kind, global batch, the number of samples the data index was built for). Against
the config a job is about to run with:

- the data position is one integer, `consumed_samples`: every step reads global samples
  [consumed, consumed + global_batch) of one fixed sequence, and each data-parallel rank its slice,
  so a DP, TP or PP change keeps the exact position (no sample repeated or skipped);
- a changed global batch is refused unless `train.allow_batch_change=true`: the same sequence is
  then cut into steps of the new size from `consumed_samples` on (the data index is rebuilt for at
  least as many samples as before, so the order does not change), while the LR schedule and
  `train.tokens` count the new steps;
- what a backend cannot reshard is refused with what would work: another backend, megatron's
  distributed vs. plain optimizer (different state layouts), a DeepSpeed ZeRO stage change.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from llm_train.config.schema import ExperimentConfig
from llm_train.errors import ConfigError, ConfigProblem
from llm_train.parallel import ParallelLayout
from llm_train.run_dir import RunDir

log = logging.getLogger(__name__)
# The keys that make up a layout; a change of these on resume is a layout change, not a new config.
LAYOUT_KEYS = ("tp", "pp", "vpp", "cp", "dp", "sp", "zero_stage", "micro_batch", "recompute")
LAYOUT_CONFIG_KEYS = ("parallel.", "train.micro_batch_size", "train.global_batch_size", "cluster.nodes")


@dataclass
class ResumePlan:
    checkpoint: Path | None = None
    step: int = 0
    changes: dict[str, tuple] = field(default_factory=dict)  # layout key -> (checkpoint's, now)
    batch_change: tuple[int, int] | None = None
    data_samples: int = 0  # the data index of the checkpoint covered this many samples

    def describe(self) -> str:
        parts = [f"{k} {a} -> {b}" for k, (a, b) in self.changes.items()]
        if self.batch_change:
            parts.append(f"global batch {self.batch_change[0]} -> {self.batch_change[1]}")
        return ", ".join(parts)


def optimizer_kind(cfg: ExperimentConfig, cuda: bool) -> str:
    """What the backend's optimizer state looks like on disk (what can be resharded into what)."""
    if cfg.parallel.backend == "deepspeed":
        return f"zero-{cfg.parallel.zero_stage}"
    return "distributed" if cuda and cfg.parallel.distributed_optimizer else "local"


def layout_record(cfg: ExperimentConfig, layout: ParallelLayout, cuda: bool, data_samples: int) -> dict:
    """What the trainer saves with every checkpoint so the next start can check its own layout."""
    return {
        "backend": cfg.parallel.backend,
        "layout": {k: v for k, v in asdict(layout).items() if k in LAYOUT_KEYS},
        "optimizer": optimizer_kind(cfg, cuda),
        "global_batch_size": cfg.train.global_batch_size,
        "data_samples": data_samples,
    }


def plan_resume(
    run: RunDir, cfg: ExperimentConfig, layout: ParallelLayout, cuda: bool, checkpoint: Path | None = None
) -> ResumePlan:
    """Compare the checkpoint to resume from with the job's config; refuse what cannot be honoured."""
    if cfg.train.resume == "never":
        return ResumePlan()
    path = Path(cfg.train.resume) if cfg.train.resume != "auto" else (checkpoint or run.latest_checkpoint())
    if path is None:
        return ResumePlan()
    state = _read_state(path)
    saved = state.get("trainer", {}).get("written_with")
    plan = ResumePlan(checkpoint=path, step=int(state.get("step", 0)))
    if not saved:  # written before layouts were recorded: nothing to compare
        return plan
    now = layout_record(cfg, layout, cuda, 0)
    problems = []
    if saved["backend"] != now["backend"]:
        problems.append(
            ConfigProblem(
                None,
                "parallel.backend",
                f"expected {saved['backend']} to resume {path} (written by it); for a warm start in the other "
                "backend export the weights (`llm-train export --to hf`, then `--to megatron`)",
                now["backend"],
            )
        )
    elif saved["optimizer"] != now["optimizer"]:
        problems.append(_optimizer_problem(path, saved["optimizer"], now["optimizer"], cfg))
    plan.changes = {
        k: (saved["layout"].get(k), now["layout"][k])
        for k in LAYOUT_KEYS
        if k in saved["layout"] and saved["layout"][k] != now["layout"][k]
    }
    if saved["global_batch_size"] != now["global_batch_size"]:
        plan.batch_change = (saved["global_batch_size"], now["global_batch_size"])
        if not cfg.train.allow_batch_change:
            problems.append(
                ConfigProblem(
                    None,
                    "train.global_batch_size",
                    f"expected {saved['global_batch_size']} (the checkpoint's), or train.allow_batch_change=true "
                    "to cut the same sample sequence into steps of the new size from the checkpoint's "
                    "position on",
                    now["global_batch_size"],
                )
            )
    if problems:
        raise ConfigError(problems)
    plan.data_samples = int(saved.get("data_samples", 0))
    return plan


def _optimizer_problem(path: Path, saved: str, now: str, cfg: ExperimentConfig) -> ConfigProblem:
    if cfg.parallel.backend == "deepspeed":
        return ConfigProblem(
            None,
            "parallel.zero_stage",
            f"expected {saved.removeprefix('zero-')} to resume {path} (ZeRO stages shard the optimizer "
            "state differently; the data-parallel size may change)",
            cfg.parallel.zero_stage,
        )
    return ConfigProblem(
        None,
        "parallel.distributed_optimizer",
        f"expected {'true' if saved == 'distributed' else 'false'} to resume {path} ({saved} optimizer state; "
        "TP, PP and DP may change)",
        cfg.parallel.distributed_optimizer,
    )


def _read_state(path: Path) -> dict:
    try:
        return json.loads((Path(path) / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
