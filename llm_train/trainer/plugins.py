"""User callbacks named in the config (`train.callbacks: ["package.module:Class"]`).

A site or a team adds behaviour to every run (a custom metric, a notification, a test hook) without
touching the trainer; the entry stays a plain string, so the config remains plain YAML.
"""

from __future__ import annotations

import importlib

from llm_train.errors import ConfigError, ConfigProblem
from llm_train.trainer.callbacks import Callback


def load_callbacks(paths: list[str]) -> list[Callback]:
    out = []
    for i, path in enumerate(paths):
        key = f"train.callbacks.{i}"
        module_name, _, name = path.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(
                [ConfigProblem(None, key, f"expected an importable 'package.module:Class' ({exc})", path)]
            ) from None
        if not (isinstance(cls, type) and issubclass(cls, Callback)):
            raise ConfigError(
                [
                    ConfigProblem(
                        None, key, "expected a subclass of llm_train.trainer.callbacks.Callback", path
                    )
                ]
            )
        out.append(cls())
    return out
