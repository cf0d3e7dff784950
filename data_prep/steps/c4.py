"""C4 line and page rules (Raffel et al. 2020), as datatrove's C4QualityFilter applies them.

Lines are kept only if they end in terminal punctuation (not "..."), have enough words, have no
over-long word and do not mention javascript or cookie/terms policies; the whole page is dropped
for "lorem ipsum", a curly bracket, or too few sentences in the kept lines. Like C4, the step
rewrites the text to the kept lines. Sentences are counted as spaCy's sentencizer counts them
on spaCy's tokens (`text_stats.sentences`), as datatrove does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from data_prep.document import Document
from data_prep.pipeline.registry import STEPS
from data_prep.pipeline.step import BaseFilter, FilterResult
from data_prep.steps.params import PerLang, check
from data_prep.steps.text_stats import sentences as count_sentences

_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
_END_PUNCTUATION = (".", "?", "!", '"', "'")
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")


@dataclass(frozen=True)
class C4Params:
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    min_num_sentences: int = 5  # -1 disables
    min_words_per_line: int = 3  # -1 disables
    max_word_length: int = 1000  # -1 disables
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True

    def validate(self, step: str) -> None:
        for key in ("min_num_sentences", "min_words_per_line", "max_word_length"):
            v = getattr(self, key)
            check(isinstance(v, int) and v >= -1, step, key, "an integer >= -1 (-1 disables)", v)


@STEPS.register("c4")
class C4QualityFilter(BaseFilter):
    name = "c4"

    def __init__(self, per_lang: dict | None = None, **params):
        super().__init__()
        self.params = PerLang(C4Params, self.name, params, per_lang)

    def filter(self, doc: Document) -> FilterResult:
        p = self.params.get(doc.lang)
        kept: list[str] = []
        sentences = 0
        for line in doc.text.splitlines():
            line = line.strip()
            line_words = line.split()
            if p.max_word_length != -1 and any(len(w) > p.max_word_length for w in line_words):
                self.stats.update("c4.line_too_long_word", 1, doc.lang)
                continue
            if p.remove_citations:
                line = _CITATION.sub("", line)
            if p.filter_no_terminal_punct and (not line.endswith(_END_PUNCTUATION) or line.endswith("...")):
                self.stats.update("c4.line_no_terminal_punct", 1, doc.lang)
                continue
            if len(line_words) < p.min_words_per_line:
                self.stats.update("c4.line_too_few_words", 1, doc.lang)
                continue
            lower = line.lower()
            if p.filter_lorem_ipsum and "lorem ipsum" in lower:
                return False, "c4_lorem_ipsum", {"line": line[:200]}
            if p.filter_javascript and "javascript" in lower:
                self.stats.update("c4.line_javascript", 1, doc.lang)
                continue
            if p.filter_curly_bracket and "{" in line:
                return False, "c4_curly_bracket", {"line": line[:200]}
            if p.filter_policy and any(s in lower for s in _POLICY):
                self.stats.update("c4.line_policy", 1, doc.lang)
                continue
            if p.min_num_sentences != -1:
                sentences += count_sentences(line, doc.lang)
            kept.append(line)
        if sentences < p.min_num_sentences:
            return (
                False,
                "c4_too_few_sentences",
                {"sentences": sentences, "min_num_sentences": p.min_num_sentences},
            )
        doc.text = "\n".join(kept).strip()
        return True
