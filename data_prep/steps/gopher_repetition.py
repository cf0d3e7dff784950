"""Gopher repetition rules (Rae et al. 2021, table A1), as datatrove's GopherRepetitionFilter applies them.

Same order, thresholds and arithmetic as datatrove 0.10 (duplicate paragraphs/lines by count and
by characters, top 2-4-gram character fraction with n-grams joined by a space, duplicated 5-10-gram
characters with n-grams joined without one), so decisions agree. Faster: n-grams are counted as
hashes with numpy (`ngram_stats`), and the greedy duplicate scan visits only repeated ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from data_prep.document import Document
from data_prep.pipeline.registry import STEPS
from data_prep.pipeline.step import BaseFilter, FilterResult
from data_prep.steps.ngram_stats import NGramStats
from data_prep.steps.params import PerLang, check
from data_prep.steps.text_stats import doc_tokens

_PARAGRAPH = re.compile(r"\n{2,}")


def split_paragraphs(text: str) -> list[str]:
    r"""`re.split(r"\n{2,}", text)`; without a run of three newlines (never after `normalize`)
    that is a plain split on two."""
    return _PARAGRAPH.split(text) if "\n\n\n" in text else text.split("\n\n")


def split_lines(text: str) -> list[str]:
    r"""`re.split(r"\n+", text)` by `str.split`: the empty strings between adjacent newlines go,
    those at the two ends (text starting or ending with a newline) stay, as the regex keeps them."""
    parts = text.split("\n")
    if len(parts) < 3:
        return parts
    return [parts[0], *filter(None, parts[1:-1]), parts[-1]]


def find_duplicates(items: list[str]) -> tuple[int, int]:
    """(number of repeated elements, characters in them), counting every repeat after the first.

    Every element but the first of each distinct value is a repeat: the counts are the totals
    minus those of the distinct values (C loops, not a Python one per line).
    """
    distinct = set(items)
    return len(items) - len(distinct), sum(map(len, items)) - sum(map(len, distinct))


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

        paragraphs = split_paragraphs(text.strip())
        dup, dup_chars = find_duplicates(paragraphs)
        if p.dup_para_frac and dup / len(paragraphs) > p.dup_para_frac:
            return (
                False,
                "gopher_rep_dup_para_frac",
                _stat("dup_para_frac", dup / len(paragraphs), p.dup_para_frac),
            )
        if p.dup_para_char_frac and dup_chars / n_chars > p.dup_para_char_frac:
            return (
                False,
                "gopher_rep_dup_para_char_frac",
                _stat("dup_para_char_frac", dup_chars / n_chars, p.dup_para_char_frac),
            )

        lines = split_lines(text)
        dup, dup_chars = find_duplicates(lines)
        if p.dup_line_frac and dup / len(lines) > p.dup_line_frac:
            return (
                False,
                "gopher_rep_dup_line_frac",
                _stat("dup_line_frac", dup / len(lines), p.dup_line_frac),
            )
        if p.dup_line_char_frac and dup_chars / n_chars > p.dup_line_char_frac:
            return (
                False,
                "gopher_rep_dup_line_char_frac",
                _stat("dup_line_char_frac", dup_chars / n_chars, p.dup_line_char_frac),
            )

        tokens = doc_tokens(text, doc.lang)
        grams = NGramStats(tokens.toks, tokens.ids, tokens.lengths)
        tops, dups = grams.profile([n for n, _ in p.top_n_grams], [n for n, _ in p.dup_n_grams])
        for n, frac in p.top_n_grams:
            if n in tops and tops[n] / n_chars > frac:
                return (
                    False,
                    f"gopher_rep_top_{n}_gram",
                    _stat(f"top_{n}_gram_char_frac", tops[n] / n_chars, frac),
                )
        for n, frac in p.dup_n_grams:
            ratio = dups.get(n, 0) / n_chars
            if ratio > frac:
                return False, f"gopher_rep_dup_{n}_gram", _stat(f"dup_{n}_gram_char_frac", ratio, frac)
        return True


def _stat(name: str, value: float, threshold: float) -> dict:
    return {name: round(value, 6), "max": threshold}
