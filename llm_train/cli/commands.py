"""The subcommand table: name -> (module:function, one-line help).

Commands are imported lazily so `llm-train --help` and `llm-train config` never import torch.
Each entry point takes the remaining argv and returns an exit code.
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):
    target: str
    help: str


COMMANDS: dict[str, Command] = {
    "prep": Command("data_prep.cli.prep:main", "clean, filter, PII-scrub and deduplicate a raw corpus"),
    "tokenizer": Command("data_prep.cli.tokenizer:main", "train a multilingual byte-level BPE tokenizer"),
    "pack": Command("data_prep.cli.pack:main", "tokenize and pack a clean corpus into Megatron .bin/.idx"),
    "train": Command("llm_train.cli.train:main", "train a model (local processes, or one rank under srun)"),
    "submit": Command("llm_train.cli.submit:main", "submit a job or a job chain to Slurm"),
    "jobs": Command("llm_train.cli.jobs:main_jobs", "show the Slurm jobs of a run dir"),
    "logs": Command("llm_train.cli.jobs:main_logs", "tail the log of a run dir's latest job"),
    "eval": Command("evals.cli:main", "evaluate checkpoints (BPB per language, tasks), watch, report"),
    "export": Command("llm_train.cli.export:main", "export a checkpoint (e.g. --to hf)"),
    "plan": Command("llm_train.cli.plan:main", "estimate memory, layout, time, GPU-hours and energy"),
    "doctor": Command("llm_train.cli.doctor:main", "preflight checks of this node"),
    "config": Command("llm_train.cli.config_cmd:main", "show, validate and diff configs"),
    "track": Command("llm_train.cli.track:main", "private Aim UI (ui), import metrics.jsonl into Aim (sync)"),
    "data": Command("llm_train.cli.data:main", "data rights: document lineage to checkpoints, erasure"),
    "report": Command("llm_train.cli.report:main", "generated reports of a run (ai-act: AI Act summary)"),
}
