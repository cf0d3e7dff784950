"""Load an experiment: compose files, apply overrides, interpolate, validate, hash."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from llm_train.config.checks import consistency_problems
from llm_train.config.compose import Composer, Provenance, find_configs_root, read_yaml
from llm_train.config.overrides import apply_overrides, interpolate_env, source_of
from llm_train.config.schema import ExperimentConfig
from llm_train.errors import ConfigError, ConfigProblem


@dataclass
class ResolvedConfig:
    config: ExperimentConfig
    yaml: str
    sha256: str
    provenance: Provenance = field(default_factory=dict)
    path: Path | None = None


def load_config(
    path: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    cluster: str | None = None,
    configs_root: str | Path | None = None,
) -> ResolvedConfig:
    """Resolve an experiment file (or a run dir's resolved config.yaml) into a validated config."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.yaml"
    root = Path(configs_root) if configs_root else find_configs_root(path)
    choices = {"cluster": cluster} if cluster else {}
    data, prov = Composer(root, choices).compose(path)
    apply_overrides(data, prov, list(overrides))
    data = interpolate_env(data, prov)
    config = validate(data, prov)
    text = dump_yaml(config)
    return ResolvedConfig(config, text, sha256_text(text), prov, path)


def validate(data: dict[str, Any], prov: Provenance) -> ExperimentConfig:
    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems_from_pydantic(exc, data, prov)) from None
    problems = [
        ConfigProblem(source_of(prov, key), key, f"expected {expected}", value)
        for key, value, expected in consistency_problems(config)
    ]
    if problems:
        raise ConfigError(problems)
    return config


def dump_yaml(config: BaseModel) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _problems_from_pydantic(exc: ValidationError, data: dict, prov: Provenance) -> list[ConfigProblem]:
    merged: dict[str, ConfigProblem] = {}
    for err in exc.errors(include_url=False):
        keys = _data_path(err["loc"], data)
        key = ".".join(keys)
        if err["type"] == "extra_forbidden":
            message = "unknown key" + _suggestion(keys)
        else:
            message = f"expected {err['msg'][0].lower()}{err['msg'][1:]}"
        if key in merged:
            # Unions report one error per member: fold them into one line.
            if message not in merged[key].message:
                merged[key].message += f"; or {message.removeprefix('expected ')}"
            continue
        merged[key] = ConfigProblem(source_of(prov, key), key, message, err.get("input", ...))
    return list(merged.values())


def _data_path(loc: tuple, data: Any) -> list[str]:
    """Keep the loc parts that exist in the data (pydantic adds union member names)."""
    keys: list[str] = []
    node = data
    for part in loc:
        if (
            isinstance(node, dict)
            and part in node
            or isinstance(node, list)
            and isinstance(part, int)
            and part < len(node)
        ):
            keys.append(str(part))
            node = node[part]
        else:
            break
    return keys


def _suggestion(keys: list[str]) -> str:
    model: Any = ExperimentConfig
    for part in keys[:-1]:
        field_info = getattr(model, "model_fields", {}).get(part)
        if field_info is None:
            return ""
        model = field_info.annotation
    fields = list(getattr(model, "model_fields", {}))
    if not fields:
        return ""
    close = difflib.get_close_matches(keys[-1], fields, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint}; valid keys here: {', '.join(fields)}"


def load_resolved_file(path: str | Path) -> dict:
    """A resolved config.yaml (e.g. from a run dir) as a plain dict, without composing."""
    path = Path(path)
    return read_yaml(path / "config.yaml" if path.is_dir() else path)
