"""Gopher repetition rules (Rae et al. 2021, table A1), as datatrove's GopherRepetitionFilter applies them.

Same order, thresholds and arithmetic as datatrove 0.10 (duplicate paragraphs/lines by count and
by characters, top 2-4-gram character fraction with n-grams joined by a space, duplicated 5-10-gram
characters with n-grams joined without one), so decisions agree. Faster: n-grams are counted as
tuples in C, and the greedy duplicate scan runs only when a duplicate n-gram exists at all.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter

from data_prep.document import Document
from data_prep.pipeline.registry import STEPS
from data_prep.pipeline.step import BaseFilter, FilterResult
from data_prep.steps.params import PerLang, check
from data_prep.steps.text_stats import words

_PARAGRAPH = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")


def find_duplicates(items: list[str]) -> tuple[int, int]:
    """(number of repeated elements, characters in them), counting every repeat after the first."""
    seen: set[str] = set()
    dup_elements = dup_chars = 0
    for item in items:
        if item in seen:
            dup_elements += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return dup_elements, dup_chars


def top_ngram_chars(toks: list[str], n: int) -> int:
    """Characters covered by the most frequent n-gram (" "-joined length x count); first wins ties."""
    grams = Counter(zip(*(toks[i:] for i in range(n)), strict=False))
    # max() returns the first maximal item, as datatrove's Counter.most_common(1) does.
    gram, count = max(grams.items(), key=itemgetter(1))
    return (sum(map(len, gram)) + n - 1) * count


def duplicated_ngram_chars(toks: list[str], n: int) -> int:
    """Characters in n-grams ("".join) that repeat an earlier one, skipping over each repeat.

    Same greedy scan as datatrove's `find_all_duplicate`, but it visits only positions whose
    n-gram occurs more than once: the others can never be "seen before", so skipping them
    changes nothing.
    """
    joined = list(map("".join, zip(*(toks[i:] for i in range(n)), strict=False)))
    counts = Counter(joined)
    if len(counts) == len(joined):
        return 0
    seen: set[str] = set()
    repeated = frontier = 0
    for idx in compress(range(len(joined)), map((1).__lt__, map(counts.__getitem__, joined))):
        if idx < frontier:
            continue  # inside the n-gram just counted as a repeat
        gram = joined[idx]
        if gram in seen:
            repeated += len(gram)
            frontier = idx + n
        else:
            seen.add(gram)
    return repeated


@dataclass(frozen=True)
class GopherRepetitionParams:
    dup_line_frac: float | None = 0.3
    dup_para_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    dup_para_char_frac: float | None = 0.2
    top_n_grams: tuple | list = ((2, 0.2), (3, 0.18), (4, 0.16))
    dup_n_grams: tuple | list = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))

    def validate(self, step: str) -> None:
        for key in ("dup_line_frac", "dup_para_frac", "dup_line_char_frac", "dup_para_char_frac"):
            v = getattr(self, key)
            check(
                v is None or (isinstance(v, int | float) and 0 <= v <= 1), step, key, "in [0, 1] or null", v
            )
        for key in ("top_n_grams", "dup_n_grams"):
            pairs = getattr(self, key)
            ok = all(
                isinstance(p, list | tuple) and len(p) == 2 and isinstance(p[0], int) and p[0] >= 1
                for p in pairs
            )
            check(ok, step, key, "a list of [n, max_fraction] pairs", pairs)


@STEPS.register("gopher_repetition")
class GopherRepetitionFilter(BaseFilter):
    name = "gopher_repetition"

    def __init__(self, per_lang: dict | None = None, **params):
        super().__init__()
        self.params = PerLang(GopherRepetitionParams, self.name, params, per_lang)

    def filter(self, doc: Document) -> FilterResult:
        p = self.params.get(doc.lang)
        text = doc.text
        if not text:
            return False, "gopher_rep_empty"
        n_chars = len(text)

        paragraphs = _PARAGRAPH.split(text.strip())
        dup, dup_chars = find_duplicates(paragraphs)
        if p.dup_para_frac and dup / len(paragraphs) > p.dup_para_frac:
            return False, "gopher_rep_dup_para_frac"
        if p.dup_para_char_frac and dup_chars / n_chars > p.dup_para_char_frac:
            return False, "gopher_rep_dup_para_char_frac"

        lines = _LINES.split(text)
        dup, dup_chars = find_duplicates(lines)
        if p.dup_line_frac and dup / len(lines) > p.dup_line_frac:
            return False, "gopher_rep_dup_line_frac"
        if p.dup_line_char_frac and dup_chars / n_chars > p.dup_line_char_frac:
            return False, "gopher_rep_dup_line_char_frac"

        toks = words(text, doc.lang)
        for n, frac in p.top_n_grams:
            if len(toks) >= n and top_ngram_chars(toks, n) / n_chars > frac:
                return False, f"gopher_rep_top_{n}_gram"
        for n, frac in p.dup_n_grams:
            if duplicated_ngram_chars(toks, n) / n_chars > frac:
                return False, f"gopher_rep_dup_{n}_gram"
        return True
