"""Dotted `key.path=value` overrides from the command line, and `${env:VAR}` interpolation."""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

from llm_train.config.compose import Provenance, deep_merge
from llm_train.errors import ConfigError, ConfigProblem

OVERRIDE_SOURCE = "<command line>"
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?:,([^}]*))?\}")


def parse_override(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not _KEY.match(key):
        raise ConfigError(
            [
                ConfigProblem(
                    OVERRIDE_SOURCE, None, "overrides look like key.path=value (e.g. train.lr=1e-3)", text
                )
            ]
        )
    # YAML parsing gives ints, floats, bools, null and [lists]; the schema then coerces
    # (e.g. "1e-3", which YAML 1.1 reads as a string, becomes a float for a float field).
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def apply_overrides(data: dict, prov: Provenance, overrides: list[str]) -> None:
    for text in overrides:
        key, value = parse_override(text)
        nested: Any = value
        for part in reversed(key.split(".")):
            nested = {part: nested}
        deep_merge(data, nested, prov, OVERRIDE_SOURCE)


def interpolate_env(data: Any, prov: Provenance, path: str = "", environ: dict | None = None) -> Any:
    """Replace ${env:VAR} and ${env:VAR,default} in every string; unset without default is an error."""
    environ = os.environ if environ is None else environ
    if isinstance(data, dict):
        return {k: interpolate_env(v, prov, f"{path}{k}.", environ) for k, v in data.items()}
    if isinstance(data, list):
        return [interpolate_env(v, prov, f"{path}{i}.", environ) for i, v in enumerate(data)]
    if not isinstance(data, str) or "${" not in data:
        return data
    key = path.rstrip(".")

    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(
            [
                ConfigProblem(
                    source_of(prov, key),
                    key,
                    f"environment variable {name} is not set (export it, or write ${{env:{name},default}})",
                    data,
                )
            ]
        )

    return _ENV.sub(replace, data)


def source_of(prov: Provenance, key: str) -> str:
    """The file that set `key`, or its nearest ancestor that was set explicitly."""
    if key in prov:
        return prov[key]
    parts = key.split(".")
    for n in range(len(parts) - 1, 0, -1):
        source = prov.get(".".join(parts[:n]))
        if source:
            return f"{source} (default value, not set in the file)"
    return "<schema default>"
