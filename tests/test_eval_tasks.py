"""Task files: our JSONL format, benchmark loaders, the continuation generator (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.corpus import validation_docs
from evals.errors import EvalError
from evals.tasks.format import load_task_file
from evals.tasks.generate import continuation_task
from evals.tasks.sources import load_source
from evals.tasks.suite import resolve_task
from tests.test_eval_support import make_corpus

DATA = Path(__file__).parent / "data" / "eval"


def test_malformed_lines_are_counted_by_reason_and_skipped():
    tf = load_task_file(DATA / "mc_mixed.jsonl")
    assert [(e.lang, e.gold) for e in tf.examples] == [("de", 0), ("fr", 1), ("it", 0)]
    assert tf.examples[2].delimiter == "  " and tf.examples[1].id == "fr-1"
    assert dict(tf.skipped) == {
        "bad_choices": 2,
        "bad_gold": 1,
        "bad_lang": 1,
        "invalid_json": 1,
        "not_an_object": 1,
    }
    assert len(tf.sha256) == 64


@pytest.mark.parametrize(
    ("spec", "lang", "task", "gold", "choices", "skipped"),
    [
        ("belebele:belebele_deu_Latn.jsonl", "de", "belebele", 1, 4, 1),
        ("xcopa:xcopa_test.it.jsonl", "it", "xcopa", 1, 2, 1),
        ("xnli:xnli.test.de.tsv", "de", "xnli", 0, 3, 1),
        ("pawsx:pawsx_test_fr.tsv", "fr", "pawsx", 1, 2, 1),
        ("arc:arc_challenge_DE.jsonl", "de", "arc", 0, 4, 1),
        ("hellaswag:hellaswag_FR.jsonl", "fr", "hellaswag", 0, 4, 1),
        ("mmlu:mmlu_IT.jsonl", "it", "mmlu_elementary_mathematics", 1, 4, 1),
        ("truthfulqa:truthfulqa_DE.jsonl", "de", "truthfulqa_mc1", 0, 2, 1),
    ],
)
def test_benchmark_loaders(spec, lang, task, gold, choices, skipped):
    fmt, _, name = spec.partition(":")
    [tf] = resolve_task(f"{fmt}:{DATA / name}")
    ex = tf.examples[0]
    assert (ex.lang, ex.task, ex.gold, len(ex.choices)) == (lang, task, gold, choices)
    assert sum(tf.skipped.values()) == skipped


def test_xcopa_uses_the_language_connector():
    [ex], _ = load_source("xcopa", DATA / "xcopa_test.it.jsonl")
    assert ex.context == "L'uomo aprì il rubinetto quindi"
    assert ex.choices[1] == "l'acqua scorse dal beccuccio."


def test_unknown_format_and_generative_task_are_refused():
    with pytest.raises(EvalError, match="not found"):
        resolve_task("belebel:/nope.jsonl")
    with pytest.raises(EvalError, match="generative"):
        load_source("gsm8k", DATA / "mmlu_IT.jsonl")


def test_generator_picks_true_continuations_among_same_language_distractors(tmp_path):
    corpus = make_corpus(tmp_path / "clean", n=10)
    docs = validation_docs(corpus, [], 10)
    examples = continuation_task(docs, per_language=8)
    assert {e.lang for e in examples} == {"de", "fr", "it"}
    texts = {lang: [" ".join(d["text"].split()) for d in ds] for lang, ds in docs.items()}
    for ex in examples:
        assert len(set(ex.choices)) == 4
        true = ex.context + " " + ex.choices[ex.gold]
        assert any(true in t for t in texts[ex.lang])
        wrong = [c for i, c in enumerate(ex.choices) if i != ex.gold]
        # Distractors come from other documents of the same language.
        assert all(any(c in t for t in texts[ex.lang]) for c in wrong)
    again = continuation_task(docs, per_language=8)
    assert again == examples  # seeded: the task file (and its hash) is reproducible
    assert {e.gold for e in examples} != {examples[0].gold}  # gold position is shuffled


def test_tasks_command_checks_and_converts(tmp_path, capsys):
    from evals.cli import main as eval_main

    assert eval_main(["tasks", "check", str(DATA / "mc_mixed.jsonl")]) == 1  # malformed lines: non-zero
    assert "3 examples, 6 malformed" in capsys.readouterr().out
    out = tmp_path / "belebele.jsonl"
    assert eval_main(["tasks", "convert", "belebele", str(DATA / "belebele_deu_Latn.jsonl"), str(out)]) == 0
    assert eval_main(["tasks", "check", str(out)]) == 0
    [ex] = load_task_file(out).examples
    assert (ex.task, ex.lang, ex.choices[ex.gold]) == ("belebele", "de", "um acht")
