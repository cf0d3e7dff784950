"""Which characters a regex alternative can start or end with, read from Python's regex parser.

Used by spacy_tokenizer_rules.py when it generates the word-splitting rules: the splitter
(data_prep/steps/spacy_split.py) skips an alternative of spaCy's prefix, suffix or infix regex
when the chunk at hand holds none of the characters the alternative could consume first (or
last, for an alternative anchored at the end). That is exact, not a heuristic: an alternative
that cannot consume its first character cannot match. Character sets are written back as regex
character classes; `None` means "any character" (no skipping). Lookarounds consume nothing and
are left out, which can only make a set larger.
"""

from __future__ import annotations

import re
from re import _constants as C  # noqa: N812
from re import _parser

ANY = None  # any character
_CATEGORY = {
    C.CATEGORY_DIGIT: r"\d",
    C.CATEGORY_NOT_DIGIT: r"\D",
    C.CATEGORY_SPACE: r"\s",
    C.CATEGORY_NOT_SPACE: r"\S",
    C.CATEGORY_WORD: r"\w",
    C.CATEGORY_NOT_WORD: r"\W",
}
_REPEATS = (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT)


def _union(a, b):
    if a is ANY or b is ANY:
        return ANY
    return a + [x for x in b if x not in a]


def _item_set(op, av):
    """(characters the item may consume first, can it consume nothing) - same for last."""
    if op == C.LITERAL:
        return [(C.LITERAL, av)], False
    if op == C.IN:
        if any(
            o not in (C.LITERAL, C.RANGE, C.CATEGORY) or (o == C.CATEGORY and a not in _CATEGORY)
            for o, a in av
        ):
            return ANY, False  # negated or case-folded classes: no skipping
        return list(av), False
    if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
        return [], True
    return None


def _ends(seq, reverse: bool):
    acc: list | None = []
    items = list(seq)[::-1] if reverse else list(seq)
    for op, av in items:
        simple = _item_set(op, av)
        if simple is not None:
            chars, nullable = simple
        elif op == C.BRANCH:
            chars, nullable = [], False
            for branch in av[1]:
                c, n = _ends(branch, reverse)
                chars, nullable = _union(chars, c), nullable or n
        elif op == C.SUBPATTERN:
            if av[1] & re.IGNORECASE:
                chars, nullable = ANY, _ends(av[3], reverse)[1]
            else:
                chars, nullable = _ends(av[3], reverse)
        elif op == C.ATOMIC_GROUP:
            chars, nullable = _ends(av, reverse)
        elif op in _REPEATS:
            chars, nullable = _ends(av[2], reverse)
            nullable = nullable or av[0] == 0
        else:  # ANY, NOT_LITERAL, group references, ...
            chars, nullable = ANY, True
        acc = _union(acc, chars)
        if not nullable:
            return acc, False
    return acc, True


_CATEGORY_CODE = {
    C.CATEGORY_DIGIT: "d",
    C.CATEGORY_NOT_DIGIT: "D",
    C.CATEGORY_SPACE: "s",
    C.CATEGORY_NOT_SPACE: "S",
    C.CATEGORY_WORD: "w",
    C.CATEGORY_NOT_WORD: "W",
}


def _charset(items) -> dict | None:
    """{"ranges": [[lo, hi], ...] code points, "cats": "dw"} (regex \\d \\w ...), or None for any."""
    if items is ANY:
        return None
    ranges, cats = [], ""
    for op, av in items:
        if op == C.LITERAL:
            ranges.append([av, av])
        elif op == C.RANGE:
            ranges.append([av[0], av[1]])
        else:
            cats += _CATEGORY_CODE[av]
    merged: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return {"ranges": merged, "cats": "".join(sorted(set(cats)))}


def _class(items) -> str:
    parts = []
    for op, av in items:
        if op == C.LITERAL:
            parts.append(re.escape(chr(av)))
        elif op == C.RANGE:
            parts.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        else:
            parts.append(_CATEGORY[av])
    return "[" + "".join(parts) + "]"


def analyse(source: str, flags: int) -> dict:
    """first/last: classes of the first/last consumed character (None: any); anchors; widths."""
    tree = _parser.parse(source, flags)
    ignore = bool(tree.state.flags & re.IGNORECASE)
    first, nullable = _ends(tree.data, reverse=False)
    last, _ = _ends(tree.data, reverse=True)
    data = list(tree.data)
    lo, hi = tree.getwidth()
    return {
        "first": None if ignore else _charset(first),
        "last": None if ignore else _charset(last),
        "nullable": nullable or lo == 0,
        "start_anchor": bool(data) and data[0] == (C.AT, C.AT_BEGINNING),
        "end_anchor": bool(data) and data[-1] == (C.AT, C.AT_END),
        "maxwidth": None if hi >= C.MAXREPEAT else hi,
        # characters of which the string must hold one for the alternative to match at all
        "need": None if ignore else _charset(_required(tree.data)),
    }


def _size(items) -> int:
    n = 0
    for op, av in items:
        n += (
            1
            if op == C.LITERAL
            else av[1] - av[0] + 1
            if op == C.RANGE
            else 10
            if av == C.CATEGORY_DIGIT
            else 10_000
        )
    return n


def _uncased(items) -> bool:
    for op, av in items:
        codes = [av] if op == C.LITERAL else range(av[0], av[1] + 1) if op == C.RANGE else []
        if op == C.CATEGORY and av != C.CATEGORY_DIGIT:
            return False
        if any(chr(c).lower() != chr(c) or chr(c).upper() != chr(c) for c in codes):
            return False
    return True


def _required(seq):
    """A small class of which every match of `seq` consumes at least one character, or None."""
    best = None
    for op, av in seq:
        found = None
        if op in (C.LITERAL, C.IN):
            chars, _ = _item_set(op, av)
            found = None if chars is ANY else chars
        elif op == C.SUBPATTERN:
            found = _required(av[3])
        elif op in _REPEATS and av[0] >= 1:
            found = _required(av[2])
        elif op == C.ASSERT:
            # a lookaround that must succeed needs its characters in the string too
            found = _required(av[1])
        elif op == C.BRANCH:
            parts = [_required(b) for b in av[1]]
            if all(p is not None for p in parts):
                found = []
                for p in parts:
                    found = _union(found, p)
        if found is not None and _uncased(found) and (best is None or _size(found) < _size(best)):
            best = found
    return best


def guard(spec: list | None) -> str | None:
    """A class every match of the whole regex needs a character of (checked before matching)."""
    if spec is None:
        return None
    tree = _parser.parse(spec[0], spec[1])
    found = _required(tree.data)
    return None if found is None or _size(found) > 64 else _class(found)


_FOLDS: dict[str, list[int]] = {}


def _case_insensitive(cls: str) -> list[int]:
    """Every character that Python's re, ignoring case, takes for the class (found by trying them all)."""
    if cls not in _FOLDS:
        one = re.compile(cls, re.IGNORECASE).fullmatch
        _FOLDS[cls] = [cp for cp in range(0x110000) if one(chr(cp))]
    return _FOLDS[cls]


def first_ignoring_case(source: str, flags: int) -> dict | None:
    """The first characters an alternative matched ignoring case can consume, or None for any."""
    tree = _parser.parse(source, flags & ~re.IGNORECASE)
    chars, _ = _ends(tree.data, reverse=False)
    if chars is ANY:
        return None
    return _charset([(C.LITERAL, cp) for cp in _case_insensitive(_class(chars))])


def head(source: str, flags: int) -> str | None:
    """The leading single characters every match starts with ("a[ée]ro[-–]" of French's
    "^a[ée]ro[-–][a-z]..."), as a small regex, or None. Large classes end the head."""
    seq = list(_parser.parse(source, flags & ~re.IGNORECASE).data)
    while len(seq) == 1 and seq[0][0] == C.SUBPATTERN:
        seq = list(seq[0][1][3])
    parts = []
    for op, av in seq:
        if op == C.AT and av == C.AT_BEGINNING and not parts:
            continue
        if op == C.LITERAL:
            parts.append(re.escape(chr(av)))
        elif op == C.IN and _item_set(op, av)[0] is not ANY and _size(av) <= 64:
            parts.append(_class(av))
        else:
            break
    return "".join(parts) or None
