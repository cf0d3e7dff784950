"""Language identification with heliport (offline; the model ships inside the wheel).

One identification of the whole document (its first `max_chars` characters) gives `doc.lang` and
`meta.lang_score` (heliport's confidence: higher is surer; below heliport's per-language threshold
it answers "und"). A second pass over a sample of lines gives `meta.lang_fraction`, the share of
sampled characters whose line is in the document's language: low values flag mixed documents
(translated manuals with untranslated English pages). That pass costs a third of the step, so it
runs only where it decides something (`min_lang_fraction` set for the language) or is asked for
(`fraction_lines` given).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from data_prep.document import Document
from data_prep.languages import EU_LANGUAGES, to_iso1
from data_prep.pipeline.registry import STEPS
from data_prep.pipeline.step import BaseFilter, FilterResult, drop_parts
from data_prep.steps.params import PerLang, check
from llm_train.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_FRACTION_LINES = 16


@dataclass(frozen=True)
class LangIdParams:
    min_score: float = 0.0  # on top of heliport's own per-language confidence threshold
    min_lang_fraction: float = 0.0  # 0 keeps mixed documents (the fraction is still recorded)

    def validate(self, step: str) -> None:
        check(isinstance(self.min_score, int | float), step, "min_score", "a number", self.min_score)
        v = self.min_lang_fraction
        check(isinstance(v, int | float) and 0 <= v <= 1, step, "min_lang_fraction", "in [0, 1]", v)


@STEPS.register("langid")
class LanguageId(BaseFilter):
    name = "langid"

    def __init__(
        self,
        keep: list[str] | None = None,
        max_chars: int = 20_000,
        fraction_lines: int | None = None,
        min_line_chars: int = 20,
        per_lang: dict | None = None,
        **params,
    ):
        super().__init__()
        self.params = PerLang(LangIdParams, self.name, params, per_lang)
        self.keep = frozenset(EU_LANGUAGES if keep is None else keep)
        check(
            bool(self.keep) and all(isinstance(k, str) for k in self.keep),
            self.name,
            "keep",
            "a list of codes",
            keep,
        )
        for key, v in (
            ("max_chars", max_chars),
            ("fraction_lines", DEFAULT_FRACTION_LINES if fraction_lines is None else fraction_lines),
            ("min_line_chars", min_line_chars),
        ):
            check(isinstance(v, int) and v >= 0, self.name, key, "an integer >= 0", v)
        self.max_chars = max_chars
        # None: sample lines only for languages with a min_lang_fraction (where it decides)
        self.always_fraction = fraction_lines is not None
        self.fraction_lines = DEFAULT_FRACTION_LINES if fraction_lines is None else fraction_lines
        self.min_line_chars = min_line_chars
        try:
            import heliport
        except ImportError as e:
            raise ConfigError("step 'langid' needs the heliport package (pip install heliport)") from e
        # Loading the model takes a few seconds and ~1 GB: once per step, never per document.
        self._model = heliport.Identifier()

    def identify(self, text: str) -> tuple[str, float]:
        """(ISO 639-1 code or "und", confidence) for a piece of text."""
        code, score = self._model.identify_with_score(text[: self.max_chars])
        return to_iso1(code), score

    def line_fraction(self, text: str, lang: str) -> float:
        """Share of characters, over up to `fraction_lines` evenly spread lines, identified as `lang`."""
        lines = [line for line in text.split("\n") if len(line) >= self.min_line_chars]
        if not lines or self.fraction_lines == 0:
            return 1.0
        if len(lines) > self.fraction_lines:
            step = len(lines) / self.fraction_lines
            lines = [lines[int(i * step)] for i in range(self.fraction_lines)]
        identify = self._model.identify
        total = same = 0
        for line in lines:
            total += len(line)
            # ignore_confidence: a short line is often below the threshold but its best guess is useful
            if to_iso1(identify(line, ignore_confidence=True)) == lang:
                same += len(line)
        return same / total

    def run(self, docs):
        # The base loop counts a document under its language before filtering; here the language
        # is what this step finds, so count after identifying.
        for doc in docs:
            keep, reason, stat = drop_parts(self.filter(doc), "langid_rejected")
            self.count_in(doc)
            if keep:
                self.count_out(doc)
                yield doc
            else:
                self.count_dropped(doc, reason, stat)

    def filter(self, doc: Document) -> FilterResult:
        lang, score = self.identify(doc.text)
        doc.meta["lang_score"] = round(score, 4)
        if lang == "und":
            doc.lang = None
            return False, "langid_low_score", {"lang": "und", "lang_score": doc.meta["lang_score"]}
        doc.lang = lang
        if lang not in self.keep:
            return False, "langid_not_kept", {"lang": lang, "lang_score": doc.meta["lang_score"]}
        p = self.params.get(lang)
        if score < p.min_score:
            return False, "langid_low_score", {"lang_score": doc.meta["lang_score"], "min_score": p.min_score}
        if not (self.always_fraction or p.min_lang_fraction):
            return True
        fraction = self.line_fraction(doc.text, lang)
        doc.meta["lang_fraction"] = round(fraction, 4)
        if fraction < p.min_lang_fraction:
            return (
                False,
                "langid_low_fraction",
                {
                    "lang_fraction": doc.meta["lang_fraction"],
                    "min_lang_fraction": p.min_lang_fraction,
                },
            )
        return True
