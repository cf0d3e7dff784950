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
from functools import cache

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
        text = doc.text
        # Whole-document checks first: a rule whose trigger is nowhere in the text is skipped for
        # every line (most documents have no citation, no curly bracket, no "javascript").
        long_word = p.max_word_length != -1 and _long_word(p.max_word_length)(text)
        citations = p.remove_citations and "[" in text
        # (removing a citation can join the two halves of "java[1]script")
        lower = (_CITATION.sub("", text) if citations else text).lower()
        lorem = p.filter_lorem_ipsum and "lorem ipsum" in lower
        javascript = p.filter_javascript and "javascript" in lower
        curly = p.filter_curly_bracket and "{" in text
        policy = p.filter_policy and any(s in lower for s in _POLICY)
        punct, min_words = p.filter_no_terminal_punct, p.min_words_per_line
        need = p.min_num_sentences  # -1: never counted
        dropped = dict.fromkeys(
            ("too_long_word", "no_terminal_punct", "too_few_words", "javascript", "policy"), 0
        )
        kept: list[str] = []
        sentences = 0
        for line in text.splitlines():
            line = line.strip()
            line_words = line.split()
            if long_word and any(len(w) > p.max_word_length for w in line_words):
                dropped["too_long_word"] += 1
                continue
            if citations:
                line = _CITATION.sub("", line)
            if punct and (not line.endswith(_END_PUNCTUATION) or line.endswith("...")):
                dropped["no_terminal_punct"] += 1
                continue
            if len(line_words) < min_words:
                dropped["too_few_words"] += 1
                continue
            if lorem or javascript or policy:
                line_lower = line.lower()
                if lorem and "lorem ipsum" in line_lower:
                    return False, "c4_lorem_ipsum", {"line": line[:200]}
                if javascript and "javascript" in line_lower:
                    dropped["javascript"] += 1
                    continue
            if curly and "{" in line:
                return False, "c4_curly_bracket", {"line": line[:200]}
            if policy and any(s in line_lower for s in _POLICY):
                dropped["policy"] += 1
                continue
            if sentences < need:  # only "fewer than needed?" is asked: stop counting at the minimum
                sentences += count_sentences(line, doc.lang)
            kept.append(line)
        for rule, n in dropped.items():
            if n:
                self.stats.update(f"c4.line_{rule}", n, doc.lang)
        if sentences < p.min_num_sentences:
            return (
                False,
                "c4_too_few_sentences",
                {"sentences": sentences, "min_num_sentences": p.min_num_sentences},
            )
        doc.text = "\n".join(kept).strip()
        return True


@cache
def _long_word(max_length: int):
    """Search for a word (run of non-space characters) longer than `max_length`."""
    return re.compile(rf"\S{{{max_length + 1}}}").search
