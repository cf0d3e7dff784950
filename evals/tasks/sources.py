"""Loaders for users' local copies of public multilingual benchmarks (nothing is downloaded).

Each loader turns one file (JSONL, or TSV for XNLI / PAWS-X) into `MCExample`s of our format; use
them as `--tasks FORMAT:PATH` or convert once with `llm-train eval tasks convert`. Prompts follow
lm-evaluation-harness where it has one multiple-choice form; English scaffolding words are used for
XNLI and PAWS-X (the harness uses per-language templates that put a different context per choice).

| format     | file                                   | fields used                                              |
|------------|----------------------------------------|----------------------------------------------------------|
| belebele   | `<flores code>.jsonl` (e.g. deu_Latn)  | flores_passage, question, mc_answer1..4, correct_answer_num |
| xnli       | `xnli.<split>.jsonl` / `.tsv`          | premise (sentence1), hypothesis (sentence2), label / gold_label, language |
| pawsx      | `<lang>/<split>.tsv` / `.jsonl`         | sentence1, sentence2, label                               |
| xcopa      | `<split>.<lang>.jsonl`                 | premise, choice1, choice2, question, label                |
| arc        | EU20 ARC (`*_<LANG>.jsonl`)            | question, choices{text,label}, answerKey                  |
| hellaswag  | EU20 HellaSwag                         | ctx (or ctx_a + ctx_b), endings, label                    |
| mmlu       | EU20 MMLU                              | question, choices, answer (index or letter)               |
| truthfulqa | EU20 TruthfulQA (mc1)                  | question, mc1_targets{choices, labels}                    |
| gsm8k      | EU20 GSM8K                             | not multiple-choice: run it with lm-eval through our backend |
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from evals.errors import EvalError
from evals.tasks.format import MCExample
from llm_train.utils.registry import Registry

log = logging.getLogger(__name__)
SOURCES: Registry[Callable[[dict, str], MCExample]] = Registry("task file format")

# FLORES-200 codes of Belebele files -> ISO 639-1 for the EU languages (others keep their code).
FLORES = {
    "bul_Cyrl": "bg",
    "ces_Latn": "cs",
    "dan_Latn": "da",
    "deu_Latn": "de",
    "ell_Grek": "el",
    "eng_Latn": "en",
    "spa_Latn": "es",
    "est_Latn": "et",
    "fin_Latn": "fi",
    "fra_Latn": "fr",
    "gle_Latn": "ga",
    "hrv_Latn": "hr",
    "hun_Latn": "hu",
    "ita_Latn": "it",
    "lit_Latn": "lt",
    "lvs_Latn": "lv",
    "mlt_Latn": "mt",
    "nld_Latn": "nl",
    "pol_Latn": "pl",
    "por_Latn": "pt",
    "ron_Latn": "ro",
    "slk_Latn": "sk",
    "slv_Latn": "sl",
    "swe_Latn": "sv",
}
# XCOPA connectors, as in lm-evaluation-harness' xcopa task ("because" / "therefore").
XCOPA_CONNECTORS = {
    "et": ("sest", "seetõttu"),
    "ht": ("poukisa", "donk sa"),
    "it": ("perché", "quindi"),
    "id": ("karena", "maka"),
    "qu": ("imataq", "chaymi"),
    "sw": ("kwa sababu", "kwa hiyo"),
    "zh": ("因为", "所以"),
    "ta": ("காரணமாக", "எனவே"),
    "th": ("เพราะ", "ดังนั้น"),
    "tr": ("çünkü", "bu yüzden"),
    "vi": ("bởi vì", "vì vậy"),
    "en": ("because", "therefore"),
}
LETTERS = "ABCDEFGHIJ"


@SOURCES.register("belebele")
def belebele(row: dict, lang: str) -> MCExample:
    code = row.get("dialect", "")
    lang = lang or FLORES.get(code, code)
    choices = tuple(row[f"mc_answer{i}"] for i in range(1, 5))
    context = f"P: {row['flores_passage']}\nQ: {row['question']}\nA:"
    return MCExample(
        "belebele",
        lang,
        context,
        choices,
        int(row["correct_answer_num"]) - 1,
        f"{row.get('link', '')}#{row.get('question_number', '')}",
    )


@SOURCES.register("xnli")
def xnli(row: dict, lang: str) -> MCExample:
    premise = row.get("premise", row.get("sentence1"))
    hypothesis = row.get("hypothesis", row.get("sentence2"))
    label = row.get("label", row.get("gold_label"))
    names = ["entailment", "neutral", "contradiction"]
    gold = names.index(label) if label in names else int(label)
    context = f"{premise}\nQuestion: {hypothesis} True, Neither or False?\nAnswer:"
    return MCExample("xnli", lang or row["language"], context, ("True", "Neither", "False"), gold)


@SOURCES.register("pawsx")
def pawsx(row: dict, lang: str) -> MCExample:
    context = (
        f"Sentence 1: {row['sentence1']}\nSentence 2: {row['sentence2']}\n"
        "Question: Do both sentences mean the same thing?\nAnswer:"
    )
    return MCExample(
        "pawsx", lang or row["lang"], context, ("No", "Yes"), int(row["label"]), str(row.get("id", ""))
    )


@SOURCES.register("xcopa")
def xcopa(row: dict, lang: str) -> MCExample:
    lang = lang or row["lang"]
    because, therefore = XCOPA_CONNECTORS.get(lang, XCOPA_CONNECTORS["en"])
    connector = because if row["question"] == "cause" else therefore
    context = f"{row['premise'].strip().rstrip('.。')} {connector}"

    def lower_first(s: str) -> str:
        return s[0].lower() + s[1:] if s else s

    choices = (lower_first(row["choice1"]), lower_first(row["choice2"]))
    return MCExample("xcopa", lang, context, choices, int(row["label"]), str(row.get("idx", "")))


@SOURCES.register("arc")
def arc(row: dict, lang: str) -> MCExample:
    labels = list(row["choices"]["label"])
    context = f"Question: {row['question']}\nAnswer:"
    return MCExample(
        "arc",
        lang,
        context,
        tuple(row["choices"]["text"]),
        labels.index(row["answerKey"]),
        str(row.get("id", "")),
    )


@SOURCES.register("hellaswag")
def hellaswag(row: dict, lang: str) -> MCExample:
    ctx = row.get("ctx") or f"{row['ctx_a']} {row.get('ctx_b', '').capitalize()}"
    activity = row.get("activity_label")
    context = f"{activity}: {ctx}" if activity else ctx
    return MCExample(
        "hellaswag", lang, context, tuple(row["endings"]), int(row["label"]), str(row.get("ind", ""))
    )


@SOURCES.register("mmlu")
def mmlu(row: dict, lang: str) -> MCExample:
    choices = tuple(row["choices"])
    answer = row["answer"]
    gold = LETTERS.index(answer) if isinstance(answer, str) and answer in LETTERS else int(answer)
    listed = "".join(f"\n{LETTERS[i]}. {c}" for i, c in enumerate(choices))
    context = f"{row['question'].strip()}{listed}\nAnswer:"
    # Scored on the letters, as lm-eval's mmlu.
    return MCExample(
        f"mmlu_{row['subject']}" if row.get("subject") else "mmlu",
        lang,
        context,
        tuple(LETTERS[: len(choices)]),
        gold,
        str(row.get("id", "")),
    )


@SOURCES.register("truthfulqa")
def truthfulqa(row: dict, lang: str) -> MCExample:
    targets = row["mc1_targets"]
    return MCExample(
        "truthfulqa_mc1",
        lang,
        f"Q: {row['question']}\nA:",
        tuple(targets["choices"]),
        list(targets["labels"]).index(1),
    )


def _lang_from_name(path: Path) -> str:
    """`..._DE.jsonl`, `test.de.jsonl`, `deu_Latn.jsonl` or a `de/` parent dir; '' if none."""
    stem = path.name.split(".jsonl")[0].split(".tsv")[0]
    for code, lang in FLORES.items():
        if stem.endswith(code):
            return lang
    m = re.search(r"(?:^|[._-])([A-Za-z]{2})$", stem)
    if m:
        return m.group(1).lower()
    return path.parent.name if re.fullmatch(r"[a-z]{2}", path.parent.name) else ""


def _rows(path: Path) -> Iterator[dict | None]:
    if path.suffix == ".tsv":
        with open(path, encoding="utf-8", newline="") as handle:
            yield from csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    yield None


def load_source(fmt: str, path: str | Path, lang: str = "") -> tuple[list[MCExample], Counter]:
    """Examples from one benchmark file; rows that do not fit the format are counted and skipped."""
    if fmt == "gsm8k":
        raise EvalError(
            "gsm8k is generative: run it through lm-eval with `--model llm_train` (see evals/README.md)"
        )
    convert = SOURCES.get(fmt)
    path = Path(path)
    lang = lang or _lang_from_name(path)
    examples, skipped = [], Counter()
    for row in _rows(path):
        if row is None:
            skipped["invalid_json"] += 1
            continue
        try:
            ex = convert(row, lang)
            if (
                len(ex.choices) < 2
                or not 0 <= ex.gold < len(ex.choices)
                or not all(ex.choices)
                or not ex.lang
            ):
                raise ValueError("choices/gold/lang")
        except (KeyError, ValueError, TypeError, AttributeError, IndexError):
            skipped[f"bad_{fmt}_row"] += 1
            continue
        examples.append(ex)
    if skipped:
        log.warning("%s: %d rows skipped %s", path, sum(skipped.values()), dict(skipped))
    return examples, skipped
