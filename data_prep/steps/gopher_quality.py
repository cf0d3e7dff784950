"""Gopher quality rules (Rae et al. 2021, table A1), as datatrove's GopherQualityFilter applies them.

Same rules, order and default thresholds as datatrove 0.10, so keep/drop decisions agree; the
stop-word rule uses the document's own language list (datatrove defaults to English words).
`min_alpha_words_ratio` is datatrove's `max_non_alpha_words_ratio` under a name that says what it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from data_prep.document import Document
from data_prep.pipeline.registry import STEPS
from data_prep.pipeline.step import BaseFilter, FilterResult
from data_prep.resources import stop_word_languages, stop_words
from data_prep.steps.params import PerLang, check
from data_prep.steps.text_stats import doc_tokens

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GopherQualityParams:
    min_doc_words: int | None = 50
    max_doc_words: int | None = 100_000
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 10
    max_symbol_word_ratio: float | None = 0.1
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    min_alpha_words_ratio: float | None = 0.8
    min_stop_words: int | None = 2
    # None: the packaged list of the document's language.
    stop_words: tuple[str, ...] | list[str] | None = None

    def validate(self, step: str) -> None:
        for key in ("min_doc_words", "max_doc_words", "min_stop_words"):
            v = getattr(self, key)
            check(v is None or (isinstance(v, int) and v >= 0), step, key, "an integer >= 0 or null", v)
        for key in ("min_avg_word_length", "max_avg_word_length", "max_symbol_word_ratio"):
            v = getattr(self, key)
            check(v is None or (isinstance(v, int | float) and v >= 0), step, key, "a number >= 0 or null", v)
        for key in ("max_bullet_lines_ratio", "max_ellipsis_lines_ratio", "min_alpha_words_ratio"):
            v = getattr(self, key)
            check(
                v is None or (isinstance(v, int | float) and 0 <= v <= 1), step, key, "in [0, 1] or null", v
            )
        check(
            self.stop_words is None or all(isinstance(w, str) for w in self.stop_words),
            step,
            "stop_words",
            "a list of strings or null",
            self.stop_words,
        )


@STEPS.register("gopher_quality")
class GopherQualityFilter(BaseFilter):
    name = "gopher_quality"

    def __init__(self, per_lang: dict | None = None, **params):
        super().__init__()
        self.params = PerLang(GopherQualityParams, self.name, params, per_lang)
        self._stop: dict[str | None, frozenset[str] | None] = {}
        self._have_lists = set(stop_word_languages())

    def _stop_words(self, lang: str | None) -> frozenset[str] | None:
        if lang not in self._stop:
            explicit = self.params.get(lang).stop_words
            if explicit is not None:
                self._stop[lang] = frozenset(explicit)
            elif lang in self._have_lists:
                self._stop[lang] = stop_words(lang)
            else:
                logger.warning(
                    "gopher_quality: no stop-word list for %r; its stop-word rule is skipped", lang
                )
                self._stop[lang] = None
        return self._stop[lang]

    def filter(self, doc: Document) -> FilterResult:
        p = self.params.get(doc.lang)
        text = doc.text
        tokens = doc_tokens(text, doc.lang)
        n_words = len(tokens.toks)
        length, is_word, has_alpha = tokens.facts()
        n_real = int(np.count_nonzero(is_word))
        real_chars = int(length[is_word].sum())
        alpha = int(np.count_nonzero(has_alpha))

        if p.min_doc_words and n_real < p.min_doc_words:
            return False, "gopher_short_doc", {"words": n_real, "min_doc_words": p.min_doc_words}
        if p.max_doc_words and n_real > p.max_doc_words:
            return False, "gopher_long_doc", {"words": n_real, "max_doc_words": p.max_doc_words}
        if n_real:
            avg = real_chars / n_real
            if p.min_avg_word_length and avg < p.min_avg_word_length:
                return (
                    False,
                    "gopher_below_avg_word_len",
                    _stat("avg_word_length", avg, p, "min_avg_word_length"),
                )
            if p.max_avg_word_length and avg > p.max_avg_word_length:
                return (
                    False,
                    "gopher_above_avg_word_len",
                    _stat("avg_word_length", avg, p, "max_avg_word_length"),
                )
        if n_words == 0:
            return False, "gopher_short_doc", {"words": 0, "min_doc_words": p.min_doc_words}

        if p.max_symbol_word_ratio:
            ratio = text.count("#") / n_words
            if ratio > p.max_symbol_word_ratio:
                return (
                    False,
                    "gopher_too_many_hashes",
                    _stat("hash_word_ratio", ratio, p, "max_symbol_word_ratio"),
                )
            ratio = (text.count("...") + text.count("…")) / n_words
            if ratio > p.max_symbol_word_ratio:
                return (
                    False,
                    "gopher_too_many_ellipsis",
                    _stat("ellipsis_word_ratio", ratio, p, "max_symbol_word_ratio"),
                )

        lines = text.splitlines()
        if p.max_bullet_lines_ratio:
            ratio = sum(1 for s in lines if s.lstrip().startswith(("•", "-"))) / len(lines)
            if ratio > p.max_bullet_lines_ratio:
                return (
                    False,
                    "gopher_too_many_bullets",
                    _stat("bullet_lines_ratio", ratio, p, "max_bullet_lines_ratio"),
                )
        if p.max_ellipsis_lines_ratio:
            ratio = sum(1 for s in lines if s.rstrip().endswith(("...", "…"))) / len(lines)
            if ratio > p.max_ellipsis_lines_ratio:
                return (
                    False,
                    "gopher_too_many_end_ellipsis",
                    _stat("ellipsis_lines_ratio", ratio, p, "max_ellipsis_lines_ratio"),
                )

        if p.min_alpha_words_ratio and alpha / n_words < p.min_alpha_words_ratio:
            return (
                False,
                "gopher_below_alpha_ratio",
                _stat("alpha_words_ratio", alpha / n_words, p, "min_alpha_words_ratio"),
            )

        if p.min_stop_words:
            stop = self._stop_words(doc.lang)
            if stop is not None:
                found = len(stop.intersection(tokens.toks))
                if found < p.min_stop_words:
                    return (
                        False,
                        "gopher_few_stop_words",
                        {"stop_words": found, "min_stop_words": p.min_stop_words},
                    )
        return True


def _stat(name: str, value: float, params: GopherQualityParams, threshold: str) -> dict:
    return {name: round(value, 6), threshold: getattr(params, threshold)}
