"""What an evaluation needs besides the checkpoint: one serializable object, from the run's config
(`data.valid_corpus`, `data.tokenizer`, `eval.*`) with command-line values on top."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from evals.errors import EvalError


@dataclass(frozen=True)
class EvalSettings:
    suite: str = "default"
    tokenizer: str | None = None
    corpus: str | None = None
    languages: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    max_docs_per_language: int = 200
    max_tokens_per_doc: int = 4096
    # None: the model's max_seq_len; the sliding window then advances by half of it.
    max_length: int | None = None
    batch_size: int | str = "auto"
    device: str = "auto"
    dtype: str = "float32"
    bos_policy: str = "eod"
    # When no task is given: generate the continuation task from the validation corpus.
    generate_tasks: bool = True
    generated_per_language: int = 50
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = asdict(self)
        out["languages"], out["tasks"] = list(self.languages), list(self.tasks)
        return out

    def fingerprint(self) -> str:
        """Changes when anything that moves a number changes (not the device or batch size)."""
        keep = {k: v for k, v in self.to_json().items() if k not in ("batch_size", "device", "extra")}
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def load_run_config(run_dir: Path):
    """The run's resolved config as an ExperimentConfig (None when the dir has no config.yaml)."""
    from llm_train.config.loader import load_resolved_file
    from llm_train.config.schema import ExperimentConfig

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        return None
    try:
        return ExperimentConfig.model_validate(load_resolved_file(path))
    except Exception as exc:
        raise EvalError(f"{path}: cannot read the run's config: {exc}") from exc


def settings_from_config(cfg, **overrides) -> EvalSettings:
    base = EvalSettings()
    if cfg is not None:
        ev = cfg.eval
        base = replace(
            base,
            tokenizer=cfg.data.tokenizer,
            corpus=cfg.data.valid_corpus,
            languages=tuple(ev.languages),
            tasks=tuple(ev.tasks),
            max_docs_per_language=ev.max_docs_per_language,
            max_tokens_per_doc=ev.max_tokens_per_doc,
            batch_size=ev.batch_size,
            device=ev.device,
            bos_policy=ev.bos_policy,
        )
    clean = {k: (tuple(v) if isinstance(v, list) else v) for k, v in overrides.items() if v is not None}
    return replace(base, **clean)
