"""Build a real multiple-choice task from held-out text: pick the true continuation of a passage.

For each document of a language, the passage is cut at a sentence (or word) boundary; the choices
are the true next stretch of text and the next stretches of `choices - 1` other documents of the same
language, so every choice is fluent text in the right language and only the context tells them apart.
The draw is seeded, so the same corpus gives the same file (and the same task hash) every time.
"""

from __future__ import annotations

import random
import re

from evals.tasks.format import MCExample

TASK = "continuation"
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


def _split(text: str, context_chars: int, continuation_chars: int) -> tuple[str, str] | None:
    text = " ".join(text.split())  # one line: layout differences must not give the answer away
    if len(text) < context_chars // 2 + continuation_chars // 2:
        return None
    cut = min(len(text) - continuation_chars // 2, context_chars)
    # Prefer a sentence boundary before the cut, else a space.
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, cut)]
    cut = ends[-1] if ends and ends[-1] > cut // 3 else text.rfind(" ", 0, cut) + 1
    if cut <= 0:
        return None
    rest = text[cut:]
    end = rest.rfind(" ", 0, continuation_chars)
    continuation = rest[: end if end > continuation_chars // 3 else continuation_chars].strip()
    context = text[:cut].strip()
    if len(context) < 20 or len(continuation) < 10:
        return None
    return context, continuation


def continuation_task(
    docs_by_lang: dict[str, list[dict]],
    per_language: int = 100,
    choices: int = 4,
    seed: int = 1234,
    context_chars: int = 400,
    continuation_chars: int = 120,
) -> list[MCExample]:
    rng = random.Random(seed)
    examples = []
    for lang, docs in sorted(docs_by_lang.items()):
        parts = [
            (d.get("id", str(i)), p)
            for i, d in enumerate(docs)
            if (p := _split(d["text"], context_chars, continuation_chars))
        ]
        if len(parts) < choices:
            continue  # too few documents for distinct distractors in this language
        for index, (doc_id, (context, true_cont)) in enumerate(parts[:per_language]):
            others = sorted({p[1][1] for j, p in enumerate(parts) if j != index} - {true_cont})
            if len(others) < choices - 1:
                continue
            options = [true_cont, *rng.sample(others, choices - 1)]
            rng.shuffle(options)
            examples.append(
                MCExample(TASK, lang, context, tuple(options), options.index(true_cont), f"{lang}/{doc_id}")
            )
    return examples
