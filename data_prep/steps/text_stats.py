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
# ... splits English contractions ("do n't", "I 'm", "can not").
_CONTRACTIONS = frozenset(["en"])
# ... splits every "." and hyphen on its own ("word. . .", "- - help"), Polish rules.
_SPLIT_ALL_DOTS = frozenset(["pl"])


def _char_class(pred) -> str:
    """A regex character class body for the BMP letters satisfying `pred`, as compact ranges."""
    out, run = [], None
    for cp in range(0x2500):
        if pred(chr(cp)):
            run = [cp, cp] if run is None or run[1] != cp - 1 else [run[0], cp]
            if run[0] == cp:
                out.append(run)
            else:
                out[-1] = run
    return "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in out)


_UPPER = _char_class(str.isupper)
_URL = r"(?:https?|ftp)://[^\s<>\"]*[^\s<>\"'.,;:!?)\]}»”]"
# spaCy peels prefixes off the start and suffixes off the end of a whitespace-separated chunk, each
# as its own token; what is left in the middle stays one token unless an infix splits it.
# Prefixes: punctuation, quotes, currency, a few icons, "§%=+".
_PREFIX = r",:;!?¿¡()\[\]{}<>\"'«»“”‘’„`*&#_%…。$€£¥§=+—–°©®"
# Suffixes: punctuation, quotes, icons, dashes; currency, "+" and units only after a digit.
_SUFFIX = r",:;!?¿¡()\[\]{}<>\"'«»“”‘’„`*&#_…。—–°©®"
_UNITS = (
    "km[²³]?|[mcd]m[²³]?|m[²³]?|ha|[µn]m|yd|in|ft|kg|µ?g|mg|t|lb|oz|m/s|km/h|kmh|mph|hPa|Pa|mbar"
    "|[mMkKgGtT][bB]|[TGMK]|%"
)
_AFTER_DIGIT = rf"(?<=[0-9])(?:[$€£¥+]|{_UNITS})"
# Characters after which spaCy splits off a final "." (besides lowercase letters): digits, %²-+,
# punctuation and quotes. After anything else ("⟩.", "T.", "3G.") the dot stays.
_DOT_AFTER = r"0-9%²\-+…,:;!?¿¡()\[\]{}<>_#*&。？！，、；：～·'\"”“`‘´’‚„»«「」『』（）〔〕【】《》〈〉⟦⟧"
# The dot is matched first and its left side checked after: most positions fail at once.
_DOT = rf"\.(?:(?<=[{_DOT_AFTER}]\.)|(?<=[^\W\d_]\.)(?<![{_UPPER}]\.)|(?<=[{_UPPER}][{_UPPER}]\.))"
_ELLIPSIS = r"\.\.+|…"
_LETTER = r"[^\W\d_]"
# spaCy's base tokenizer exceptions that are one token although made of affixes: emoticons, "''".
_EMOTICONS = sorted(
    [
        "''",
        "):",
        "(:",
        "(;",
        "(=",
        "(-:",
        "(-;",
        "(-8",
        ")-:",
        ":(",
        ":((",
        ":(((",
        ":()",
        ":)",
        ":))",
        ":)))",
        ":*",
        ":-(",
        ":-((",
        ":-(((",
        ":-)",
        ":-))",
        ":-)))",
        ":-*",
        ":-/",
        ":-0",
        ":-3",
        ":->",
        ":-D",
        ":-O",
        ":-P",
        ":-X",
        ":-]",
        ":-o",
        ":-p",
        ":-x",
        ":-|",
        ":-}",
        ":/",
        ":0",
        ":1",
        ":3",
        ":>",
        ":D",
        ":O",
        ":P",
        ":X",
        ":]",
        ":o",
        ":o)",
        ":p",
        ":x",
        ":|",
        ":}",
        ";)",
        ";-)",
        ";-D",
        ";D",
        ";_;",
        "<.<",
        "</3",
        "<3",
        "<33",
        "<333",
        "=(",
        "=)",
        "=/",
        "=3",
        "=D",
        "=[",
        "=]",
        "=|",
        ">.<",
        ">.>",
        ">:(",
        ">:o",
        "[-:",
        "[:",
        "[=",
        "]=",
        "^_^",
        "^__^",
        "^___^",
        "8)",
        "8-)",
        "8-D",
        ":'(",
        ":')",
        ":'-(",
        ":'-)",
        "C++",
    ],
    key=len,
    reverse=True,
)
_EMOTICON = "|".join(re.escape(e) for e in _EMOTICONS)
_EMOTICON_START = re.escape("".join(sorted({e[0] for e in _EMOTICONS})))


def _word_pattern(lang: str | None) -> re.Pattern[str]:
    split_dots = lang in _SPLIT_ALL_DOTS
    hyphen_infix = r"(?:-|–|—|~)" if split_dots else rf"(?<=[\w])(?:-|–|—|~)(?={_LETTER})"
    infixes = [
        r"\.\.+|…" if not split_dots else "…",
        r"(?<=[0-9])[+*^](?=[0-9-])",
        rf"(?<={_LETTER}),(?={_LETTER})",
        rf"(?<=[\w]){'[:<>=]' if lang in _JOIN_SLASH else '[:<>=/]'}(?={_LETTER})",
        # "obj.Method": a dot between a lowercase letter and a capital (digits too, in Polish).
        rf"(?<=[0-9{_LETTER[1:-1]}])\.(?=[0-9{_UPPER}])"
        if split_dots
        else rf"\.(?<=[^\W\d_]\.)(?<![{_UPPER}]\.)(?=[{_UPPER}])",
    ]
    if lang not in _JOIN_HYPHEN:
        infixes.append(hyphen_infix)
        infixes.append(r"(?<=[0-9])-(?=[0-9-])")
    infix = "|".join(infixes)
    dot = r"\." if split_dots else _DOT
    ellipsis = "…" if split_dots else _ELLIPSIS
    suffix = rf"(?:[{_SUFFIX}]|{dot}|{ellipsis}|{_AFTER_DIGIT}"
    clitic = None
    if lang in _CONTRACTIONS:
        clitic = r"['’][sS]|[nN]['’][tT]|['’](?:[rR][eE]|[vV][eE]|[lL][lL]|[mM]|[dD])"
    elif lang not in _JOIN_POSSESSIVE and lang not in _ELISION:
        clitic = r"['’][sS]"
    if clitic:
        suffix += "|" + clitic
    suffix += ")"
    start = rf"(?<![^\s{_PREFIX}])"  # at a chunk start or right after a prefix
    alternatives = [
        rf"(?i:can(?=not{suffix}*(?!\S))|gon(?=na{suffix}*(?!\S))|got(?=ta{suffix}*(?!\S)))(?<![^\s{_PREFIX}]...)"
        if lang in _CONTRACTIONS
        else None,
        # fast path, tried first: a plain word up to the chunk end (most tokens), unless it is a
        # number with a unit ("1242MB", split as spaCy does)
        rf"(?![0-9]+(?:{_UNITS})(?!\S))[^\W_]\w*(?!\S)(?<!_)",
        _URL,
        rf"{_AFTER_DIGIT}(?={suffix}*(?!\S))",
        rf"(?=[{_EMOTICON_START}])(?:{_EMOTICON})(?={suffix}*(?!\S))",
        rf"{start}(?:{ellipsis}|[{_PREFIX}])",  # prefixes
        r"\w+['’](?=\w)" if lang in _ELISION else None,  # l'homme -> l' homme
        # spaCy's exceptions "a." ... "z.": a lone lowercase letter keeps its dot ("z.B." -> "z." "B.")
        None if split_dots else rf"[a-zäöü]\.(?<![^\s{_PREFIX}]..)(?=[{_UPPER}]|{suffix}*(?!\S))",
        rf"(?:{infix})",
        rf"(?:{clitic})(?={suffix}*(?!\S))" if clitic else None,
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
            "c" if lang in _CONTRACTIONS else "",
            "d" if lang in _SPLIT_ALL_DOTS else "",
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
