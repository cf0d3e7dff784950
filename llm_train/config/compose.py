"""Compose YAML files through `defaults:` lists into one dict, remembering which file set each key.

Rules (the config contract):
- A `defaults:` entry is either `{group: name}` (loads configs/<group>/<name>.yaml under key
  `group`), or a path string relative to the configs root (or to the file, when it starts with
  `./` or `../`). A path whose first component is a section name (model/, train/, cluster/, ...)
  lands under that section; any other path is merged at the top level.
- Entries are applied in order, then the file's own keys (`_self_` moves that point); later wins.
- Dicts merge recursively; lists and scalars are replaced.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from llm_train.errors import ConfigError, ConfigProblem

SECTIONS = ("model", "data", "train", "parallel", "checkpoint", "tracking", "cluster", "eval", "storage")
SELF = "_self_"

Provenance = dict[str, str]


def find_configs_root(path: Path) -> Path:
    """The `configs/` directory that `defaults:` entries are relative to."""
    env = os.environ.get("LLM_TRAIN_CONFIGS")
    if env:
        return Path(env)
    for parent in path.resolve().parents:
        if parent.name == "configs":
            return parent
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (base / "configs").is_dir():
            return base / "configs"
    return Path.cwd() / "configs"


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(str(path), None, "file not found")]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), None, f"cannot read: {exc}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(where, None, f"invalid YAML: {problem}")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigProblem(str(path), None, "expected a mapping at the top level", type(data).__name__)]
        )
    return data


def deep_merge(base: dict, new: dict, prov: Provenance, source: str, prefix: str = "") -> None:
    """Merge `new` into `base` in place, recording `source` for every key it sets."""
    for key, value in new.items():
        if not isinstance(key, str):
            raise ConfigError([ConfigProblem(source, f"{prefix}{key}", "keys must be strings", key)])
        path = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value, prov, source, path + ".")
        else:
            base[key] = _copy(value)
            _forget(prov, path)
            _record(prov, value, source, path)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _record(prov: Provenance, value: Any, source: str, path: str) -> None:
    prov[path] = source
    if isinstance(value, dict):
        for k, v in value.items():
            _record(prov, v, source, f"{path}.{k}")


def _forget(prov: Provenance, path: str) -> None:
    for key in [k for k in prov if k.startswith(path + ".")]:
        del prov[key]


def nest(section: str | None, data: dict) -> dict:
    return {section: data} if section else data


class Composer:
    def __init__(self, root: Path, group_choices: dict[str, str | None] | None = None):
        self.root = root
        self.group_choices = dict(group_choices or {})
        self._used_choices: set[str] = set()

    def compose(self, path: Path) -> tuple[dict, Provenance]:
        out: dict = {}
        prov: Provenance = {}
        self._compose_file(path, None, out, prov, stack=(), top=True)
        # A --cluster choice with no cluster entry in any defaults list still applies.
        for group, choice in self.group_choices.items():
            if group not in self._used_choices and choice is not None:
                fragment = self._group_file(group, choice, str(path))
                self._compose_file(fragment, group, out, prov, stack=(), replace=True)
        return out, prov

    def _compose_file(
        self,
        path: Path,
        section: str | None,
        out: dict,
        prov: Provenance,
        stack: tuple[Path, ...],
        top: bool = False,
        replace: bool = False,
    ) -> None:
        path = path.resolve()
        if path in stack:
            chain = " -> ".join(str(p) for p in (*stack, path))
            raise ConfigError([ConfigProblem(str(path), "defaults", f"cycle in defaults: {chain}")])
        data = read_yaml(path)
        defaults = data.pop("defaults", [])
        if not isinstance(defaults, list):
            raise ConfigError([ConfigProblem(str(path), "defaults", "expected a list", defaults)])
        if replace and section:
            out.pop(section, None)
            _forget(prov, section)
        entries = list(defaults)
        if SELF not in entries:
            entries.append(SELF)
        for index, entry in enumerate(entries):
            if entry == SELF:
                deep_merge(out, nest(section, data), prov, str(path))
                continue
            for target, target_section in self._resolve_entry(entry, path, index, section):
                self._compose_file(target, target_section, out, prov, (*stack, path))

    def _resolve_entry(
        self, entry: Any, path: Path, index: int, section: str | None
    ) -> list[tuple[Path, str | None]]:
        key = f"defaults[{index}]"
        if isinstance(entry, str):
            target = (path.parent / entry) if entry.startswith(".") else (self.root / entry)
            if target.suffix not in (".yaml", ".yml"):
                target = target.with_suffix(".yaml")
            first = Path(entry).parts[0] if not entry.startswith(".") else None
            group = first if first in SECTIONS else None
            if group and group in self.group_choices:
                self._used_choices.add(group)
                choice = self.group_choices[group]
                return [] if choice is None else [(self._group_file(group, choice, str(path)), group)]
            if not target.exists():
                raise ConfigError([ConfigProblem(str(path), key, f"no such config file: {target}", entry)])
            return [(target, group or section)]
        if isinstance(entry, dict) and len(entry) == 1:
            group, choice = next(iter(entry.items()))
            if group not in SECTIONS:
                raise ConfigError(
                    [ConfigProblem(str(path), key, f"group must be one of {', '.join(SECTIONS)}", group)]
                )
            if group in self.group_choices:
                self._used_choices.add(group)
                choice = self.group_choices[group]
            if choice is None:
                return []
            return [(self._group_file(group, str(choice), str(path)), group)]
        raise ConfigError(
            [
                ConfigProblem(
                    str(path), key, "expected 'group/name.yaml' or a one-key mapping {group: name}", entry
                )
            ]
        )

    def _group_file(self, group: str, choice: str, origin: str) -> Path:
        candidate = Path(choice)
        if candidate.suffix in (".yaml", ".yml") and candidate.exists():
            return candidate
        target = self.root / group / f"{choice}.yaml"
        if not target.exists():
            known = sorted(p.stem for p in (self.root / group).glob("*.yaml"))
            raise ConfigError(
                [
                    ConfigProblem(
                        origin, group, f"no {group} config named {choice!r}; known: {', '.join(known)}"
                    )
                ]
            )
        return target
