"""The on-disk state of a prep run: the plan, per-task results and done markers.

Layout under `<output>/.prep/`:
    plan.json                      inputs (shards) and the resolved config; fixed for the run
    shards/shard-00007/            stage 1 result of input shard 7 (docs + dedup signatures)
    shards/shard-00007.done.json   its stats; the shard counts as done only when this exists
    dedup/languages.json           languages found by stage 1 (index of the dedup tasks)
    dedup/<lang>/, <lang>.done.json
    write/shard-00007.done.json    stage 3 (final files written) of shard 7
    slurm/                         rendered array scripts and their logs

Every file is written atomically and every directory renamed into place, so a task killed at
any instant leaves either nothing or a complete result, and its rerun starts from scratch.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_prep.config import PrepConfig
from data_prep.readers import expand_input
from llm_train.errors import DataError
from llm_train.utils.atomic import atomic_write_json

STAGES = ("shard", "dedup", "write")
PLAN_VERSION = 1


@dataclass(frozen=True)
class Shard:
    path: str
    format: str
    bytes: int


def expand_inputs(patterns: list[str], fmt: str = "auto") -> list[Shard]:
    """Input globs -> sorted, de-duplicated shards. A glob matching nothing is an error; a dataset
    directory stands for its data files, one shard each."""
    paths: set[str] = set()
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True))
        if not matches:
            raise DataError(f"input {pattern!r} matches no file or directory")
        paths.update(matches)
    found: dict[str, str] = {}
    for path in sorted(paths):
        found.update(expand_input(path, fmt))
    shards = []
    for path, shard_fmt in sorted(found.items()):
        size = (
            sum(f.stat().st_size for f in Path(path).rglob("*.txt"))
            if Path(path).is_dir()
            else os.path.getsize(path)
        )
        shards.append(Shard(path, shard_fmt, size))
    return shards


class Workdir:
    def __init__(self, output: str | os.PathLike):
        self.output = Path(output)
        self.root = self.output / ".prep"

    @property
    def plan_path(self) -> Path:
        return self.root / "plan.json"

    def shard_dir(self, index: int) -> Path:
        return self.root / "shards" / f"shard-{index:05d}"

    def lang_dir(self, lang: str) -> Path:
        return self.root / "dedup" / lang

    def languages_path(self) -> Path:
        return self.root / "dedup" / "languages.json"

    def slurm_dir(self) -> Path:
        return self.root / "slurm"

    def marker(self, stage: str, index: int) -> Path:
        if stage == "dedup":
            return self.root / "dedup" / f"{self.languages()[index]}.done.json"
        sub = {"shard": "shards", "write": "write"}[stage]
        return self.root / sub / f"shard-{index:05d}.done.json"

    def is_done(self, stage: str, index: int) -> bool:
        return self.marker(stage, index).exists()

    def mark_done(self, stage: str, index: int, result: dict[str, Any]) -> None:
        atomic_write_json(self.marker(stage, index), result, indent=None)

    def result(self, stage: str, index: int) -> dict[str, Any]:
        return json.loads(self.marker(stage, index).read_text(encoding="utf-8"))

    def languages(self) -> list[str]:
        return json.loads(self.languages_path().read_text(encoding="utf-8"))

    def write_languages(self, langs: list[str]) -> None:
        atomic_write_json(self.languages_path(), sorted(langs), indent=None)

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Plan:
    config: PrepConfig
    config_yaml: str
    sha256: str
    shards: list[Shard]

    def save(self, workdir: Workdir) -> None:
        atomic_write_json(
            workdir.plan_path,
            {
                "version": PLAN_VERSION,
                "config_sha256": self.sha256,
                "config": self.config.model_dump(mode="json"),
                "config_yaml": self.config_yaml,
                "shards": [s.__dict__ for s in self.shards],
            },
        )

    @classmethod
    def load(cls, workdir: Workdir) -> Plan:
        try:
            data = json.loads(workdir.plan_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{workdir.output} holds no prep run (no {workdir.plan_path})") from None
        return cls(
            config=PrepConfig.model_validate(data["config"]),
            config_yaml=data["config_yaml"],
            sha256=data["config_sha256"],
            shards=[Shard(**s) for s in data["shards"]],
        )
