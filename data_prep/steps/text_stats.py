"""Word splitting shared by the quality filters, with a small per-document cache.

The Gopher, FineWeb and C4 rules count "words". datatrove counts spaCy tokens (a blank
per-language spaCy tokenizer); running spaCy costs most of its filter time. This module
approximates spaCy's tokens with one compiled regex per language family: words (with
intra-word dots, digits groups, e-mail and URL forms kept whole), runs of "..." / "--", and
every other symbol as its own token. The per-language differences that change counts
(hyphenated compounds, "a/b", possessive 's, French/Italian elision) follow what
`spacy.blank(lang)` does. Agreement with datatrove's decisions is measured by
benchmarks/prep_vs_datatrove.py.

Several filters split the same text one after another, so `words(text, lang)` keeps the last
few results keyed by the identity of the text object (a changed text is a new object).
"""

from __future__ import annotations

import re

from data_prep.resources import char_set

TERMINAL_PUNCTUATION: tuple[str, ...] = tuple(sorted(char_set("terminal_punctuation")))
# A token made only of these characters is a symbol, not a word (Gopher's definition).
PUNCTUATION: frozenset[str] = char_set("punctuation") | char_set("terminal_punctuation")
PUNCTUATION_CHARS: str = "".join(sorted(PUNCTUATION))

# Languages whose spaCy tokenizer keeps letter-hyphen-letter compounds ("E-Mail") whole.
_JOIN_HYPHEN = frozenset(["da", "de", "el", "es", "fi", "hu", "nl", "pt", "ro", "sv"])
# ... keeps "a/b" whole.
_JOIN_SLASH = frozenset(["hu", "nl", "ro"])
# ... keeps "John's" whole instead of splitting off "'s".
_JOIN_POSSESSIVE = frozenset(["da", "de", "el", "es", "fi", "hu", "nl", "pl", "ro", "sl", "sv"])
# ... splits after an elided article or preposition ("l'", "dell'").
_ELISION = frozenset(["fr", "it"])

_URL = r"(?:https?|ftp)://[^\s<>\"]*[^\s<>\"'.,;:!?)\]}»”]"
# spaCy peels these off the start (prefixes) and end (suffixes) of a whitespace-separated chunk,
# each as its own token; what is left in the middle stays one token unless an infix splits it.
_AFFIX = r",:;!?¿¡()\[\]{}<>\"'«»“”‘’„*&#_%…。$€£¥§=+—–"
_ELLIPSIS = r"\.\.+|…"
_LETTER = r"[^\W\d_]"
_UPPER = "A-ZÀ-ÖØ-ÞЀ-ЯΑ-Ω"
# A final "." is split off except after a single capital ("T.", "П.") or a dotted abbreviation
# ("e.g.", "z.B."), as spaCy's suffix rules and exceptions mostly do.
_DOT = rf"(?:(?<=[{_UPPER}][{_UPPER}])\.|(?<![{_UPPER}.])(?<!\.[^\W\d_])\.)"


def _word_pattern(lang: str | None) -> re.Pattern[str]:
    infixes = [
        _ELLIPSIS,
        r"(?<=[0-9])[+*^](?=[0-9-])",
        rf"(?<={_LETTER}),(?={_LETTER})",
        rf"(?<=[\w]){'[:<>=]' if lang in _JOIN_SLASH else '[:<>=/]'}(?={_LETTER})",
    ]
    if lang not in _JOIN_HYPHEN:
        infixes.append(rf"(?<=[\w])(?:-|–|—|~)(?={_LETTER})")
        infixes.append(r"(?<=[0-9])-(?=[0-9-])")
    infix = "|".join(infixes)
    suffix = rf"(?:{_ELLIPSIS}|[{_AFFIX}]|{_DOT})"
    if lang not in _JOIN_POSSESSIVE and lang not in _ELISION:
        suffix = rf"(?:['’][sS]|{suffix[3:-1]})"
    alternatives = [
        _URL,
        rf"(?<![^\s{_AFFIX}])(?:{_ELLIPSIS}|[{_AFFIX}])",  # prefixes: at a chunk start or after one
        r"\w+(?!\S)",  # fast path: a plain word up to the chunk end (most tokens)
        r"\w+['’](?=\w)" if lang in _ELISION else None,  # l'homme -> l' homme
        rf"(?:{infix})",
        rf"['’][sS](?={suffix}*(?!\S))" if lang not in _JOIN_POSSESSIVE and lang not in _ELISION else None,
        # the middle: shortest run followed by only suffixes up to the chunk end, or by an infix
        rf"\S+?(?={suffix}*(?!\S)|{infix})",
    ]
    return re.compile("|".join(a for a in alternatives if a))


def _family(lang: str | None) -> str:
    """Languages that tokenize alike share one compiled pattern."""
    return "".join(
        (
            "h" if lang in _JOIN_HYPHEN else "",
            "s" if lang in _JOIN_SLASH else "",
            "e" if lang in _ELISION else "",
            "p" if lang in _JOIN_POSSESSIVE else "",
        )
    )


_PATTERNS: dict[str, re.Pattern[str]] = {}
_CACHE: dict[tuple[int, str], tuple[str, list[str]]] = {}
_CACHE_SIZE = 8


def tokenizer(lang: str | None) -> re.Pattern[str]:
    family = _family(lang)
    pattern = _PATTERNS.get(family)
    if pattern is None:
        pattern = _PATTERNS[family] = _word_pattern(lang)
    return pattern


def words(text: str, lang: str | None) -> list[str]:
    """Tokens of `text` (words and symbols) as the quality rules count them. Do not mutate."""
    family = _family(lang)
    key = (id(text), family)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is text:
        return hit[1]
    toks = tokenizer(lang).findall(text)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    # Holding `text` keeps its id from being reused while the entry lives.
    _CACHE[key] = (text, toks)
    return toks


def is_word(token: str) -> bool:
    """True when the token has at least one character that is not punctuation."""
    return bool(token.strip(PUNCTUATION_CHARS))
