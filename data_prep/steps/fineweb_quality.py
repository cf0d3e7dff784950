"""FineWeb's own quality rules (Penedo et al. 2024), as datatrove's FineWebQualityFilter applies them.

Same order and defaults as datatrove 0.10: share of lines ending in terminal punctuation, share of
short lines, characters in duplicated lines, and newlines per word.
"""

from __future__ import annotations

from dataclasses import dataclass

from data_prep.document import Document
from data_prep.pipeline.registry import STEPS
from data_prep.pipeline.step import BaseFilter, FilterResult
from data_prep.steps.gopher_repetition import find_duplicates
from data_prep.steps.params import PerLang, check
from data_prep.steps.text_stats import TERMINAL_PUNCTUATION, words


@dataclass(frozen=True)
class FineWebQualityParams:
    line_punct_thr: float = 0.12
    line_punct_exclude_zero: bool = False
    short_line_thr: float = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: float = 0.01
    new_line_ratio: float = 0.3
    # None: the Unicode sentence terminals (datatrove's TERMINAL_PUNCTUATION).
    stop_chars: list[str] | tuple[str, ...] | None = None

    def validate(self, step: str) -> None:
        for key in ("line_punct_thr", "short_line_thr", "char_duplicates_ratio", "new_line_ratio"):
            v = getattr(self, key)
            check(isinstance(v, int | float) and v >= 0, step, key, "a number >= 0", v)
        check(
            isinstance(self.short_line_length, int) and self.short_line_length >= 0,
            step,
            "short_line_length",
            "an integer >= 0",
            self.short_line_length,
        )
        check(
            self.stop_chars is None or all(isinstance(c, str) and c for c in self.stop_chars),
            step,
            "stop_chars",
            "a list of non-empty strings or null",
            self.stop_chars,
        )


@STEPS.register("fineweb_quality")
class FineWebQualityFilter(BaseFilter):
    name = "fineweb_quality"

    def __init__(self, per_lang: dict | None = None, **params):
        super().__init__()
        self.params = PerLang(FineWebQualityParams, self.name, params, per_lang)

    def filter(self, doc: Document) -> FilterResult:
        p = self.params.get(doc.lang)
        text = doc.text
        lines = [line for line in text.split("\n") if line.strip()]
        if not lines:
            return False, "fineweb_empty"
        n_lines = len(lines)
        stop_chars = TERMINAL_PUNCTUATION if p.stop_chars is None else tuple(p.stop_chars)

        ratio = sum(1 for line in lines if line.endswith(stop_chars)) / n_lines
        if ratio < p.line_punct_thr and not (ratio == 0 and p.line_punct_exclude_zero):
            return (
                False,
                "fineweb_line_punct_ratio",
                _stat("line_punct_ratio", ratio, "min", p.line_punct_thr),
            )

        limit = p.short_line_length
        ratio = sum(1 for line in lines if len(line) <= limit) / n_lines
        if ratio > p.short_line_thr:
            return (
                False,
                "fineweb_short_line_ratio",
                _stat("short_line_ratio", ratio, "max", p.short_line_thr),
            )

        ratio = find_duplicates(lines)[1] / (len(text) - text.count("\n"))
        if ratio > p.char_duplicates_ratio:
            return (
                False,
                "fineweb_char_dup_ratio",
                _stat("char_dup_ratio", ratio, "max", p.char_duplicates_ratio),
            )

        ratio = text.count("\n") / len(words(text, doc.lang))
        if ratio > p.new_line_ratio:
            return False, "fineweb_list_ratio", _stat("newlines_per_word", ratio, "max", p.new_line_ratio)
        return True


def _stat(name: str, value: float, bound: str, threshold: float) -> dict:
    return {name: round(value, 6), bound: threshold}
