"""The step registry: YAML step names -> step classes, and building a pipeline from a config.

Steps register themselves where they are defined (`@STEPS.register("langid")`); the modules of
`data_prep.steps` and the config's `plugins` are imported first so every registration has run.
A step is built as `StepClass(**params_from_yaml)`; bad parameters fail here, before any shard
is read, naming the config file and the key.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

from pydantic import ValidationError

from data_prep.pipeline.step import PipelineStep
from llm_train.config.compose import Provenance
from llm_train.config.overrides import source_of
from llm_train.errors import ConfigError, ConfigProblem, LLMTrainError
from llm_train.utils.registry import Registry

log = logging.getLogger(__name__)

STEPS: Registry[type[PipelineStep]] = Registry("data_prep step")
BUILTIN_STEP_PACKAGE = "data_prep.steps"


def import_step_modules(plugins: list[str] | tuple[str, ...] = ()) -> None:
    try:
        package = importlib.import_module(BUILTIN_STEP_PACKAGE)
    except ModuleNotFoundError as exc:
        if exc.name != BUILTIN_STEP_PACKAGE:
            raise
        package = None
    if package is not None and hasattr(package, "__path__"):
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            importlib.import_module(f"{BUILTIN_STEP_PACKAGE}.{info.name}")
    for name in plugins:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(
                [ConfigProblem(None, "plugins", f"cannot import plugin module: {exc}", name)]
            ) from None


def build_steps(
    steps: list[tuple[str, dict]], plugins: list[str] | tuple[str, ...] = (), prov: Provenance | None = None
) -> list[PipelineStep]:
    import_step_modules(plugins)
    prov = prov or {}
    built = []
    for name, params in steps:
        key = f"steps.{name}"
        try:
            cls = STEPS.get(name)
        except LLMTrainError as exc:
            raise ConfigError([ConfigProblem(source_of(prov, key), key, str(exc))]) from None
        try:
            step = cls(**params)
        except ConfigError as exc:
            problems = [
                ConfigProblem(
                    p.file or source_of(prov, key), p.key and f"{key}.{p.key}" or key, p.message, p.value
                )
                for p in exc.problems
            ]
            raise ConfigError(problems) from None
        except ValidationError as exc:
            problems = [
                ConfigProblem(
                    source_of(prov, key), ".".join([key, *map(str, e["loc"])]), e["msg"], e.get("input", ...)
                )
                for e in exc.errors(include_url=False)
            ]
            raise ConfigError(problems) from None
        except TypeError as exc:
            raise ConfigError(
                [ConfigProblem(source_of(prov, key), key, f"bad parameters: {exc}", params)]
            ) from None
        if not step.name or step.name == PipelineStep.name:
            step.name = name
            step.stats.name = name
        built.append(step)
    return built
