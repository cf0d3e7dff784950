"""One exception family for the whole project.

User-facing errors carry enough context to act on (file, key path, expected value);
the CLI prints them without a traceback and exits with ``exit_code``.
"""

from __future__ import annotations


class LLMTrainError(Exception):
    """Base class for every error the project raises on purpose."""

    exit_code = 1


class ConfigError(LLMTrainError):
    """A config file, override or combination of values is invalid."""

    exit_code = 2

    def __init__(self, problems: list[ConfigProblem] | str):
        if isinstance(problems, str):
            problems = [ConfigProblem(file=None, key=None, message=problems)]
        self.problems = problems
        super().__init__("\n".join(p.render() for p in problems))


class ConfigProblem:
    """One thing wrong in a config: where it is and what was expected."""

    __slots__ = ("file", "key", "value", "message")

    def __init__(self, file: str | None, key: str | None, message: str, value: object = ...):
        self.file = file
        self.key = key
        self.message = message
        self.value = value

    def render(self) -> str:
        where = self.file or "<config>"
        key = f" {self.key}:" if self.key else ""
        got = "" if self.value is ... else f" (got {self.value!r})"
        return f"{where}:{key} {self.message}{got}"

    def __repr__(self) -> str:
        return f"ConfigProblem({self.render()!r})"


class DataError(LLMTrainError):
    """Input data that cannot be used at all (as opposed to a bad record, which is skipped)."""


class LaunchError(LLMTrainError):
    """The process/cluster environment is not what a launch needs."""


class TrainingInterrupted(LLMTrainError):
    """Training stopped on a signal after checkpointing; Slurm should requeue."""

    exit_code = 124
