"""What each quality filter measures on a document, for the disagreement report of prep_vs_datatrove.py.

The arithmetic is datatrove 0.10's (GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter,
FineWebQualityFilter); the word and sentence splitting is passed in, so the same function gives
the statistic our side computed (our splitter) and the one datatrove computed (its spaCy
tokenizer). A disagreement then shows which statistic crossed the threshold on one side only.
"""

from __future__ import annotations

import re
from collections import Counter

_PARAGRAPH = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")
_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
_END_PUNCTUATION = (".", "?", "!", '"', "'")
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")


def _duplicates(items: list[str]) -> tuple[int, int]:
    seen: set[str] = set()
    n = chars = 0
    for item in items:
        if item in seen:
            n += 1
            chars += len(item)
        else:
            seen.add(item)
    return n, chars


def _top_ngram_chars(words: list[str], n: int) -> int:
    grams = Counter(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    if not grams:
        return 0
    gram, count = grams.most_common(1)[0]
    return len(gram) * count


def _duplicated_ngram_chars(words: list[str], n: int) -> int:
    seen: set[str] = set()
    repeated = idx = 0
    while idx < len(words) - n + 1:
        gram = "".join(words[idx : idx + n])
        if gram in seen:
            repeated += len(gram)
            idx += n
        else:
            seen.add(gram)
            idx += 1
    return repeated


def gopher_repetition(text: str, words) -> dict:
    n_chars = len(text) or 1
    paragraphs = _PARAGRAPH.split(text.strip())
    lines = _LINES.split(text)
    p_dup, p_chars = _duplicates(paragraphs)
    l_dup, l_chars = _duplicates(lines)
    toks = words(text)
    out = {
        "dup_para_frac": p_dup / len(paragraphs),
        "dup_para_char_frac": p_chars / n_chars,
        "dup_line_frac": l_dup / len(lines),
        "dup_line_char_frac": l_chars / n_chars,
        "words": len(toks),
    }
    for n in (2, 3, 4):
        out[f"top_{n}_gram_char_frac"] = _top_ngram_chars(toks, n) / n_chars
    for n in range(5, 11):
        out[f"dup_{n}_gram_char_frac"] = _duplicated_ngram_chars(toks, n) / n_chars
    return _rounded(out)


def gopher_quality(text: str, words, stop_words: frozenset[str], punctuation: frozenset[str]) -> dict:
    toks = words(text)
    n = len(toks) or 1
    real = [w for w in toks if any(c not in punctuation for c in w)]
    lines = text.splitlines() or [""]
    return _rounded(
        {
            "words": len(toks),
            "non_symbol_words": len(real),
            "avg_word_length": sum(map(len, real)) / len(real) if real else 0.0,
            "hash_word_ratio": text.count("#") / n,
            "ellipsis_word_ratio": (text.count("...") + text.count("…")) / n,
            "bullet_lines_ratio": sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines),
            "ellipsis_lines_ratio": sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines),
            "alpha_words_ratio": sum(any(c.isalpha() for c in w) for w in toks) / n,
            "stop_words": len(stop_words.intersection(toks)),
        }
    )


def c4_kept_lines(text: str) -> list[str]:
    """C4's line rules with the default parameters (the sentence count decides on these lines)."""
    kept = []
    for line in text.splitlines():
        line = line.strip()
        line_words = line.split()
        if any(len(w) > 1000 for w in line_words):
            continue
        line = _CITATION.sub("", line)
        if not line.endswith(_END_PUNCTUATION) or line.endswith("..."):
            continue
        if len(line_words) < 3:
            continue
        lower = line.lower()
        if "javascript" in lower or any(p in lower for p in _POLICY):
            continue
        kept.append(line)
    return kept


def c4(text: str, sentences) -> dict:
    kept = c4_kept_lines(text)
    return {
        "kept_lines": len(kept),
        "sentences": sum(sentences(line) for line in kept),
        "lorem_ipsum": any("lorem ipsum" in line.lower() for line in kept),
        "curly_bracket": any("{" in line for line in kept),
    }


def c4_text(text: str) -> str:
    """The text C4 passes on (its kept lines), what the filters after it see."""
    return "\n".join(c4_kept_lines(text)).strip()


def fineweb_quality(text: str, words, terminal: tuple[str, ...]) -> dict:
    lines = [line for line in text.split("\n") if line.strip()] or [""]
    toks = words(text)
    return _rounded(
        {
            "line_punct_ratio": sum(line.endswith(terminal) for line in lines) / len(lines),
            "short_line_ratio": sum(len(line) <= 30 for line in lines) / len(lines),
            "char_dup_ratio": _duplicates(lines)[1] / (len(text.replace("\n", "")) or 1),
            "words": len(toks),
            "newlines_per_word": text.count("\n") / (len(toks) or 1),
        }
    )


def _rounded(stats: dict) -> dict:
    return {k: round(v, 5) if isinstance(v, float) else v for k, v in stats.items()}
