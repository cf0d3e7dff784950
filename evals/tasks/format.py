"""The multiple-choice task format: one JSON object per line.

    {"task": "belebele", "lang": "de", "context": "Frage: ...\\nAntwort:",
     "choices": ["Berlin", "Paris", "Rom", "Wien"], "gold": 0,
     "id": "optional-stable-id", "delimiter": " "}

- `task` (str) and `lang` (ISO 639-1, str): results are reported per task and language.
- `context` (str, may be empty) and `choices` (>= 2 non-empty strings); `gold` is the 0-based index.
- The text scored for choice i is `delimiter + choices[i]` after the context; `delimiter` defaults to
  one space (lm-eval's `target_delimiter`); use "" when choices carry their own leading whitespace.
- acc: the choice with the highest log-likelihood is the gold one; acc_norm: the same after dividing
  each log-likelihood by the choice's length in characters (lm-eval's acc_norm).
A line that breaks any of these rules is counted by reason and skipped; the rest of the file is used.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)
MAX_REPORTED = 10


@dataclass(frozen=True)
class MCExample:
    task: str
    lang: str
    context: str
    choices: tuple[str, ...]
    gold: int
    id: str = ""
    delimiter: str = " "

    def to_json(self) -> dict:
        out = {
            "task": self.task,
            "lang": self.lang,
            "context": self.context,
            "choices": list(self.choices),
            "gold": self.gold,
        }
        if self.id:
            out["id"] = self.id
        if self.delimiter != " ":
            out["delimiter"] = self.delimiter
        return out


@dataclass
class TaskFile:
    path: Path
    sha256: str
    examples: list[MCExample]
    skipped: Counter = field(default_factory=Counter)

    def describe(self) -> dict:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "examples": len(self.examples),
            "skipped": dict(self.skipped),
        }


def parse_example(obj: object) -> MCExample | str:
    """An example, or the reason the object is not one."""
    if not isinstance(obj, dict):
        return "not_an_object"
    for key in ("task", "lang"):
        if not isinstance(obj.get(key), str) or not obj[key]:
            return f"bad_{key}"
    if not isinstance(obj.get("context"), str):
        return "bad_context"
    choices = obj.get("choices")
    if (
        not isinstance(choices, list)
        or len(choices) < 2
        or not all(isinstance(c, str) and c for c in choices)
    ):
        return "bad_choices"
    gold = obj.get("gold")
    if isinstance(gold, bool) or not isinstance(gold, int) or not 0 <= gold < len(choices):
        return "bad_gold"
    delimiter = obj.get("delimiter", " ")
    if not isinstance(delimiter, str):
        return "bad_delimiter"
    return MCExample(
        obj["task"], obj["lang"], obj["context"], tuple(choices), gold, str(obj.get("id", "")), delimiter
    )


def load_task_file(path: str | Path) -> TaskFile:
    path = Path(path)
    raw = path.read_bytes()
    examples, skipped = [], Counter()
    for lineno, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            result = parse_example(json.loads(line))
        except ValueError:
            result = "invalid_json"
        if isinstance(result, str):
            skipped[result] += 1
            if sum(skipped.values()) <= MAX_REPORTED:
                log.warning("%s:%d: task line skipped (%s)", path, lineno, result)
            continue
        examples.append(result)
    if skipped:
        log.warning("%s: %d malformed lines skipped %s", path, sum(skipped.values()), dict(skipped))
    return TaskFile(path, hashlib.sha256(raw).hexdigest(), examples, skipped)


def write_task_file(path: str | Path, examples: list[MCExample]) -> None:
    from llm_train.utils.atomic import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in examples))
