"""Score multiple-choice examples by log-likelihood: acc and acc_norm per task and language."""

from __future__ import annotations

from collections import defaultdict

from evals.scorer import Scorer
from evals.tasks.format import MCExample
from evals.tokenizer import EvalTokenizer, encode_pair


def choice_loglikelihoods(
    scorer: Scorer, tokenizer: EvalTokenizer, examples: list[MCExample]
) -> list[list[float]]:
    requests, owners = [], []
    for i, ex in enumerate(examples):
        for choice in ex.choices:
            requests.append(encode_pair(tokenizer, ex.context, ex.delimiter + choice))
            owners.append(i)
    results = scorer.loglikelihood_tokens(requests, desc="tasks")
    out: list[list[float]] = [[] for _ in examples]
    for owner, (ll, _) in zip(owners, results, strict=True):
        out[owner].append(ll)
    return out


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def evaluate_mc(scorer: Scorer, tokenizer: EvalTokenizer, examples: list[MCExample]) -> dict:
    """{task: {lang: {"acc", "acc_norm", "n", "chance"}}}."""
    lls = choice_loglikelihoods(scorer, tokenizer, examples)
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0, 0.0])
    for ex, ll in zip(examples, lls, strict=True):
        normed = [v / len(ex.delimiter + c) for v, c in zip(ll, ex.choices, strict=True)]
        acc = sums[(ex.task, ex.lang)]
        acc[0] += _argmax(ll) == ex.gold
        acc[1] += _argmax(normed) == ex.gold
        acc[2] += 1
        acc[3] += 1 / len(ex.choices)
    out: dict[str, dict] = defaultdict(dict)
    for (task, lang), (correct, correct_norm, n, chance) in sorted(sums.items()):
        out[task][lang] = {"acc": correct / n, "acc_norm": correct_norm / n, "n": n, "chance": chance / n}
    return dict(out)
