"""Word splitting that follows spaCy's tokenizer algorithm on spaCy's own per-language rules.

datatrove counts the words of its quality rules with `spacy.blank(lang)`: split on whitespace,
then peel prefixes and suffixes off each chunk and split it at infixes, with per-language special
cases ("z.B.", "EE. UU.", "A-t-il") and `token_match`/`url_match` exceptions. This module runs
the same algorithm (spaCy's `Tokenizer._split_affixes` / `_attach_tokens` / special-case
matcher) on the same rules, generated from spaCy into data_prep/resources/spacy/ by
scripts/spacy_tokenizer_rules.py, so word counts are spaCy's without depending on spaCy.

Speed: a chunk (the text between whitespace) is split once and remembered, as spaCy's own cache
does; a document is then `str.split` plus dictionary look-ups. Tokens are the non-empty, stripped
token texts, as datatrove keeps them (`strip_strings`): whitespace tokens are dropped.
"""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from bisect import bisect_right
from functools import cache
from itertools import chain
from pathlib import Path

try:
    from data_prep.steps._native import gather, unseen
except ImportError:  # a source tree without `pip install -e .`: the same, in Python

    def unseen(keys: list[str], mapping: dict) -> list[str]:
        return list(set(keys).difference(mapping))

    def gather(keys: list[str], mapping: dict) -> list[str]:
        return list(chain.from_iterable(map(mapping.__getitem__, keys)))


RULES_DIR = Path(__file__).resolve().parents[1] / "resources" / "spacy"
FALLBACK = "xx"  # spaCy's multi-language rules, for languages without their own
CACHE_LIMIT = 400_000  # distinct chunks remembered per language (~60 MB at most)


def _compile(spec: list | None):
    return None if spec is None else re.compile(spec[0], spec[1])


_CATEGORY_TEST = {
    # Python's re on str: \d is str.isdecimal, \w is str.isalnum or "_", \s is str.isspace
    "d": str.isdecimal,
    "D": lambda c: not c.isdecimal(),
    "w": lambda c: c.isalnum() or c == "_",
    "W": lambda c: not (c.isalnum() or c == "_"),
    "s": str.isspace,
    "S": lambda c: not c.isspace(),
}
_COMPILED: dict[str, re.Pattern] = {}  # alternative source -> regex, shared by all languages
_NONE: list[int] = []


class _MaskMap:
    """char -> bit mask of the sets (one per alternative) that hold it, by one binary search:
    the sets' ranges are cut into pieces that each lie in the same sets."""

    def __init__(self, charsets: list[dict | None]):
        edges = {0, 0x110000}
        for cs in charsets:
            for lo, hi in cs["ranges"] if cs is not None else ():
                edges.update((lo, hi + 1))
        self.starts = sorted(edges)
        masks = [0] * len(self.starts)
        self.any = self.cats = 0
        cats: dict[str, int] = {}
        for i, cs in enumerate(charsets):
            if cs is None:
                self.any |= 1 << i
                continue
            for lo, hi in cs["ranges"]:
                for k in range(bisect_right(self.starts, lo) - 1, bisect_right(self.starts, hi)):
                    masks[k] |= 1 << i
            for c in cs["cats"]:
                cats[c] = cats.get(c, 0) | 1 << i
        self.masks = masks
        self.cat_tests = [(_CATEGORY_TEST[c], bits) for c, bits in cats.items()]

    def __call__(self, ch: str) -> int:
        mask = self.masks[bisect_right(self.starts, ord(ch)) - 1] | self.any
        for test, bits in self.cat_tests:
            if test(ch):
                mask |= bits
        return mask


NOTHING = r"[^\s\S]"  # a class no character is in
LINE = r"[^\n]"  # any character of the line
# Python's re checks a class holding characters beyond U+FFFF range by range (slow for the long
# symbol classes); all of them in one range keeps the fast bitmap. The classes below are used to
# rule alternatives out, so taking in every such character only rules out fewer: still exact.
ASTRAL = "\U00010000-\U0010ffff"


def _class_body(charsets: list[dict | None]) -> str | None:
    """The inside of one regex class for the union of the sets (every character above U+FFFF
    included); None if one set is "any"."""
    parts = [ASTRAL]
    for cs in charsets:
        if cs is None:
            return None
        parts += [
            re.escape(chr(lo)) + (f"-{re.escape(chr(min(hi, 0xFFFF)))}" if min(hi, 0xFFFF) > lo else "")
            for lo, hi in cs["ranges"]
            if lo <= 0xFFFF
        ]
        parts += ["\\" + c for c in cs["cats"]]
    return "".join(parts)


def _subset(inner: dict | None, outer: dict | None) -> bool:
    """Whether every character of `inner` is in `outer` (False when unsure); None is "any"."""
    if outer is None:
        return True
    if inner is None or (inner["cats"] and not set(inner["cats"]) <= set(outer["cats"])):
        return False
    return all(any(lo <= a and b <= hi for lo, hi in outer["ranges"]) for a, b in inner["ranges"])


def _negated(charsets: list[dict | None]) -> str | None:
    """A class of every character but those of the sets (and above U+FFFF) and the newline."""
    body = _class_body(charsets)
    return None if body is None else f"[^\\n{body}]"


def _class(charsets: list[dict | None]) -> re.Pattern | None:
    """The union of the sets as a compiled class (a fast scan in C); None if one is "any"."""
    body = _class_body(charsets)
    return None if body is None else re.compile(f"[{body}]")


class _Alternation:
    """One of spaCy's affix regexes as its `|` alternatives, each tried only where it can match.

    The generator recorded, per alternative, the characters it can consume first and last and
    whether it is anchored (scripts/regex_sets.py). An alternative that cannot consume the
    chunk's characters is skipped; the others are searched one by one and the leftmost match
    wins, ties going to the earlier alternative: exactly what the whole regex (an ordered choice
    at every position) returns, without compiling or running the whole regex per chunk.
    """

    def __init__(self, alts: list[dict]):
        self.alts = alts
        self.srcs = [a["src"] for a in alts]
        self.first = _MaskMap([a["first"] for a in alts])
        self.last = _MaskMap([a["last"] for a in alts])
        # characters of which the string must hold one (a lookbehind's, a mandatory literal's)
        self.need = [None if a["need"] is None else _class([a["need"]]) for a in alts]
        self.need = [None if n is None else n.search for n in self.need]
        mask = self._mask
        nullable = [a["nullable"] for a in alts]
        # an alternative that can match empty is tried whenever its need is met
        self.always = mask(i for i in range(len(alts)) if nullable[i])
        self.start = mask(i for i, a in enumerate(alts) if a["start_anchor"] and not nullable[i])
        self.end = mask(
            i for i, a in enumerate(alts) if a["end_anchor"] and not a["start_anchor"] and not nullable[i]
        )
        self.free = (2 ** len(alts) - 1) & ~(self.always | self.start | self.end)
        self.nullable = self.always
        free = [a["first"] for i, a in enumerate(alts) if self.free >> i & 1]
        # a chunk without any character a free alternative can start with skips them all
        self.trigger = _class(free).findall if free and _class(free) is not None else None
        # alternatives anchored at the end with a bounded width need only the chunk's tail
        self.tail = [
            a["maxwidth"] if a["end_anchor"] and not a["start_anchor"] and a["maxwidth"] is not None else None
            for a in alts
        ]
        self._chars: dict[str, tuple[int, int]] = {}
        self._lists: dict[int, list[tuple[int, object]]] = {}
        self._regex: list[re.Pattern | None] = [None] * len(alts)
        self._by_end: tuple[dict, dict] = ({}, {})
        all_bits = 2 ** len(alts) - 1
        self.start_only = self.start == all_bits
        self.end_only = self.end == all_bits

    @staticmethod
    def _mask(indexes) -> int:
        return sum(1 << i for i in indexes)

    def _char(self, ch: str) -> tuple[int, int]:
        masks = self._chars.get(ch)
        if masks is None:
            masks = self._chars[ch] = (self.first(ch), self.last(ch))
        return masks

    def candidates(self, string: str) -> list[int]:
        """Indexes of the alternatives that can match `string`, in order."""
        chars = self._chars
        mask = (
            self.always
            | ((chars.get(string[0]) or self._char(string[0]))[0] & self.start)
            | ((chars.get(string[-1]) or self._char(string[-1]))[1] & self.end)
        )
        if self.free:
            found = set(self.trigger(string)) if self.trigger is not None else set(string)
            for ch in found:
                mask |= (chars.get(ch) or self._char(ch))[0] & self.free
        if not mask:
            return _NONE
        listed = self._lists.get(mask)
        if listed is None:
            listed = self._lists[mask] = [(i, self.need[i]) for i in range(len(self.srcs)) if mask >> i & 1]
        return [i for i, need in listed if need is None or need(string)]

    # Fast paths: every alternative anchored at the start (prefixes) or at the end (suffixes).
    def _anchored(self, ch: str, side: int) -> tuple:
        """(need, regex, tail) of the alternatives that can start (side 0) or end (1) with `ch`."""
        cache = self._by_end[side]
        found = cache.get(ch)
        if found is None:
            mask = self._char(ch)[side]
            found = cache[ch] = tuple(
                (self.need[i], self._compiled(i), self.tail[i])
                for i in range(len(self.srcs))
                if mask >> i & 1
            )
        return found

    def prefix_len(self, string: str) -> int:
        """`search(string)` length for alternatives all anchored at the start: the first that matches."""
        cands = self._by_end[0].get(string[0])
        for need, regex, _ in self._anchored(string[0], 0) if cands is None else cands:
            if need is None or need(string):
                m = regex.match(string)
                if m is not None:
                    return m.end()
        return 0

    def suffix_len(self, string: str) -> int:
        """`search(string)` length for alternatives all anchored at the end: the leftmost match."""
        best = n = len(string)
        cands = self._by_end[1].get(string[-1])
        for need, regex, tail in self._anchored(string[-1], 1) if cands is None else cands:
            if need is None or need(string):
                m = regex.search(string, n - tail if tail is not None and tail < n else 0)
                if m is not None and m.start() < best:
                    best = m.start()
        return n - best

    def possible(self, string: str) -> bool:
        """Whether any alternative can match `string` (False for most words)."""
        if self.start_only:
            cands = self._by_end[0].get(string[0]) or self._anchored(string[0], 0)
        elif self.end_only:
            cands = self._by_end[1].get(string[-1]) or self._anchored(string[-1], 1)
        else:
            return bool(self.candidates(string))
        return any(need is None or need(string) for need, _, _ in cands)

    def reach(self) -> dict[str, list] | None:
        """Which characters, where, let an alternative match a chunk: "start" (first character),
        "end" (last), "any" (anywhere), "need" (anywhere, for alternatives that also need a
        character, like units after a digit). None when any chunk might be matched."""
        out: dict[str, list] = {"start": [], "end": [], "any": [], "need": []}
        for a in self.alts:
            own = a["last"] if a["end_anchor"] and not a["start_anchor"] else a["first"]
            if a["nullable"]:
                if a["need"] is None:
                    return None
                out["need"].append(a["need"])
            elif not _subset(own, a["need"]):
                # needs a character besides the one it consumes: a chunk without it is safe
                out["need"].append(a["need"])
            elif a["start_anchor"]:
                out["start"].append(a["first"])
            elif a["end_anchor"]:
                out["end"].append(a["last"])
            else:
                out["any"].append(a["first"])
        return out

    def _compiled(self, i: int) -> re.Pattern:
        regex = self._regex[i]
        if regex is None:
            src = self.srcs[i]
            regex = _COMPILED.get(src)
            if regex is None:
                regex = _COMPILED[src] = re.compile(src)
            self._regex[i] = regex
        return regex

    def search(self, string: str, pos: int = 0, candidates: list[int] | None = None) -> re.Match | None:
        """`regex.search(string, pos)` of the whole regex."""
        best = None
        n = len(string)
        for i in self.candidates(string) if candidates is None else candidates:
            tail = self.tail[i]
            start = max(pos, n - tail) if tail is not None else pos
            m = self._compiled(i).search(string, start)  # lookbehinds still see before `start`
            if m is not None and (best is None or m.start() < best.start()):
                best = m
        return best

    def search_len(self, string: str) -> int:
        """Length of the whole regex's `search(string)` match, 0 when none."""
        candidates = self.candidates(string)
        if not candidates:
            return 0
        m = self.search(string, 0, candidates)
        return m.end() - m.start() if m else 0

    def finditer(self, string: str):
        """The whole regex's `finditer(string)`."""
        candidates = self.candidates(string)
        if not candidates:
            return
        if any(self.nullable >> i & 1 for i in candidates):
            # an alternative that can match empty (French elision): finditer's rules after an
            # empty match are subtle, so the whole regex runs
            yield from _whole(self.srcs).finditer(string)
            return
        pos, n = 0, len(string)
        while pos <= n:
            m = self.search(string, pos, candidates)
            if m is None:
                return
            yield m
            pos = m.end()


@cache
def _whole_source(srcs: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(srcs))


def _whole(srcs: list[str]) -> re.Pattern:
    return _whole_source(tuple(srcs))


def _no_token_match(string: str) -> bool:
    return False


class _TokenMatch:
    """A language's `token_match` (French: hyphenated compounds, 266 alternatives, seconds to
    compile whole): any alternative matching the string from its start. An alternative is tried
    only on chunks that start with a character it can start with (ignoring case), and compiled
    the first time a chunk starts as it must."""

    def __init__(self, spec: dict):
        self.flags = spec["flags"]
        self.guard = re.compile(spec["guard"]).search if spec["guard"] else None
        self.srcs = [a["src"] for a in spec["alternatives"]]
        self.first = _MaskMap([a["first"] for a in spec["alternatives"]])
        # the characters every match starts with: small, compiled at once; the whole alternative
        # only when a chunk starts that way
        self.heads = [
            re.compile(a["head"], self.flags).match if a["head"] else None for a in spec["alternatives"]
        ]
        self._by_first: dict[str, list[int]] = {}
        self._regex: dict[int, re.Pattern] = {}

    def __call__(self, string: str) -> bool:
        if self.guard is not None and not self.guard(string):
            return False  # every alternative needs one of the guard's characters
        cands = self._by_first.get(string[0])
        if cands is None:
            mask = self.first(string[0])
            cands = self._by_first[string[0]] = [i for i in range(len(self.srcs)) if mask >> i & 1]
        heads = self.heads
        for i in cands:
            if heads[i] is not None and not heads[i](string):
                continue
            regex = self._regex.get(i)
            if regex is None:
                regex = self._regex[i] = re.compile(self.srcs[i], self.flags)
            if regex.match(string):
                return True
        return False


class _ChunkCache(dict):
    """chunk -> its tokens; a miss splits the chunk (C-level look-ups on the hot path)."""

    def __init__(self, split):
        super().__init__()
        self._split = split

    def __missing__(self, chunk: str) -> tuple[str, ...]:
        if len(self) >= CACHE_LIMIT:
            self.clear()
        toks = self[chunk] = self._split(chunk)
        return toks


class SpacySplitter:
    """spaCy's blank tokenizer for one language: `words(text)` and `sentences(line)`."""

    def __init__(self, lang: str):
        path = RULES_DIR / f"{lang}.json.gz"
        with gzip.open(path, "rt", encoding="utf-8") as f:
            data = json.load(f)
        self.lang = lang
        self._prefix = _Alternation(data["prefix"]) if data["prefix"] else None
        self._suffix = _Alternation(data["suffix"]) if data["suffix"] else None
        self._infix = _Alternation(data["infix"]) if data["infix"] else None
        self._token_match = _TokenMatch(data["token_match"]) if data["token_match"] else _no_token_match
        url = _compile(data["url_match"])
        self._url_match = url.match if url else None
        self.specials: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in data["specials"].items()}
        # spaCy re-applies special cases that its affix rules would split (":)", "°C.") to the
        # token sequence; within a chunk that is a match of the sequence the rules produce.
        self._patterns: dict[str, list[tuple[str, ...]]] = {}
        self._spaced: list[tuple[str, tuple[str, ...]]] = []
        # matcher: special -> the tokens the affix rules alone make of it (from the generator)
        for string, pattern in data["matcher"].items():
            if string.isspace():
                continue  # whitespace tokens are dropped anyway
            if any(c.isspace() for c in string):
                self._spaced.append((string, tuple(pattern)))
            elif len(pattern) > 1:
                self._patterns.setdefault(pattern[0], []).append(tuple(pattern))
        self._pattern_pairs = {p[:2] for patterns in self._patterns.values() for p in patterns}
        self._prefix_len = self._suffix_len = None
        if self._prefix:
            self._prefix_len = self._prefix.prefix_len if self._prefix.start_only else self._prefix.search_len
        if self._suffix:
            self._suffix_len = self._suffix.suffix_len if self._suffix.end_only else self._suffix.search_len
        self._memo: dict[str, tuple[str, ...]] = {}
        self._chunks: dict[str, tuple[str, ...]] = {}  # exact dict: set.difference stays in C
        # Chunks that no prefix, suffix or infix rule can touch are one token: they are found in
        # bulk by two regexes over a document's new chunks (one per line), not one by one.
        reach = [a.reach() for a in (self._prefix, self._suffix, self._infix) if a is not None]
        self._safe = self._needless = None
        if all(r is not None for r in reach):
            start = [c for r in reach for c in r["start"]]
            end = [c for r in reach for c in r["end"]]
            anywhere = [c for r in reach for c in r["any"]]
            need = [c for r in reach for c in r["need"]]
            first = _negated(start + anywhere)
            middle = _negated(anywhere)
            last = _negated(end + anywhere)
            only = _negated(start + end + anywhere)
            if None not in (first, middle, last, only):
                self._safe = re.compile(f"^(?:{only}|{first}{middle}*{last})$", re.MULTILINE).findall
                self._needless = re.compile(f"^{_negated(need)}*$", re.MULTILINE).findall if need else None
        self._sentence = _ChunkCache(self._chunk_sentence_state)

    # ------------------------------------------------------------------ one chunk
    def _split_affixes(self, string: str) -> tuple[list[str], str, list[str]]:
        specials = self.specials
        prefixes: list[str] = []
        suffixes: list[str] = []
        last_size = 0
        token_match = self._token_match
        prefix_len = suffix_len = None
        if self._prefix:
            prefix_len = self._prefix.prefix_len if self._prefix.start_only else self._prefix.search_len
        if self._suffix:
            suffix_len = self._suffix.suffix_len if self._suffix.end_only else self._suffix.search_len
        while string and len(string) != last_size:
            if token_match(string):
                break
            if string in specials:
                break
            last_size = len(string)
            pre_len = prefix_len(string) if prefix_len else 0
            if pre_len:
                prefix, minus_pre = string[:pre_len], string[pre_len:]
                if minus_pre and minus_pre in specials:
                    prefixes.append(prefix)
                    string = minus_pre
                    break
            rest = string[pre_len:]
            suf_len = suffix_len(rest) if suffix_len and rest else 0
            if suf_len:
                suffix, minus_suf = string[-suf_len:], string[:-suf_len]
                if minus_suf and minus_suf in specials:
                    suffixes.append(suffix)
                    string = minus_suf
                    break
            if pre_len and suf_len and pre_len + suf_len <= len(string):
                prefixes.append(prefix)
                suffixes.append(suffix)
                string = string[pre_len:-suf_len]
            elif pre_len:
                prefixes.append(prefix)
                string = minus_pre
            elif suf_len:
                suffixes.append(suffix)
                string = minus_suf
        return prefixes, string, suffixes

    def _split_chunk(self, chunk: str) -> list[str]:
        """spaCy's `_split_affixes` + `_attach_tokens` for one chunk, as a loop (the reference)."""
        if chunk in self.specials:
            return list(self.specials[chunk])
        toks, string, suffixes = self._split_affixes(chunk)
        if string:
            toks.extend(self._attach(string))
        toks.extend(reversed(suffixes))
        return toks

    def _attach(self, string: str) -> list[str]:
        """The tokens of what the affix loop leaves: a special case, or split at the infixes."""
        if string in self.specials:
            return list(self.specials[string])
        infixes = list(self._infix.finditer(string)) if self._infix else []
        # without an infix the string stays one token, whatever token_match/url_match say
        if not infixes or self._token_match(string) or (self._url_match and self._url_match(string)):
            return [string]
        toks, start = [], 0
        for m in infixes:
            s, e = m.start(), m.end()
            if s == 0:
                continue
            if s != start:
                toks.append(string[start:s])
            if s != e:
                toks.append(string[s:e])
            start = e
        if string[start:]:
            toks.append(string[start:])
        return toks

    def _raw(self, string: str) -> tuple[str, ...]:
        """`_split_chunk(string)`, remembered for every string the affix loop passes through.

        One turn of spaCy's affix loop maps the string to (prefix, shorter string, suffix) and the
        next turn starts from the shorter string alone, so the tokens of a string are its prefix,
        the tokens of the shorter string, and its suffix: "schreiben." costs one turn when
        "schreiben" was seen before. tests/test_spacy_split.py checks this against the loop.
        """
        memo = self._memo
        hit = memo.get(string)
        if hit is not None:
            return hit
        if not string:
            return ()
        specials = self.specials
        if string in specials:
            toks = specials[string]
        elif self._token_match(string):
            toks = (string,)
        else:
            pre_len = self._prefix_len(string) if self._prefix_len else 0
            if pre_len and string[pre_len:] in specials:
                toks = (string[:pre_len], *specials[string[pre_len:]])
            else:
                rest = string[pre_len:]
                suf_len = self._suffix_len(rest) if self._suffix_len and rest else 0
                if suf_len and string[:-suf_len] in specials:
                    toks = (*specials[string[:-suf_len]], string[-suf_len:])
                elif pre_len and suf_len and pre_len + suf_len <= len(string):
                    toks = (string[:pre_len], *self._raw(string[pre_len:-suf_len]), string[-suf_len:])
                elif pre_len:
                    toks = (string[:pre_len], *self._raw(rest)) if rest else (string,)
                elif suf_len:
                    toks = (
                        (*self._raw(string[:-suf_len]), string[-suf_len:])
                        if len(string) > suf_len
                        else (string,)
                    )
                else:
                    toks = tuple(self._attach(string))  # no affix: the infix rules decide
        if len(memo) >= CACHE_LIMIT:
            memo.clear()
        memo[string] = toks
        return toks

    def _apply_patterns(self, toks: list[str]) -> list[str]:
        """spaCy's special-case matcher on one chunk's tokens: longest, then leftmost, wins."""
        patterns = self._patterns
        matches = []
        for i, tok in enumerate(toks):
            for pattern in patterns.get(tok, ()):
                n = len(pattern)
                if tuple(toks[i : i + n]) == pattern:
                    matches.append((i, i + n))
        if not matches:
            return toks
        matches.sort(key=lambda m: (-(m[1] - m[0]), m[0]))
        seen: set[int] = set()
        kept = []
        for start, end in matches:
            if start not in seen and end - 1 not in seen:
                kept.append((start, end))
            seen.update(range(start, end))
        out, i = [], 0
        for start, end in sorted(kept):
            out.extend(toks[i:start])
            out.extend(self.specials["".join(toks[start:end])])
            i = end
        out.extend(toks[i:])
        return out

    def _chunk_tokens(self, chunk: str) -> tuple[str, ...]:
        toks = self._raw(chunk)
        # every pattern has two tokens or more: no pattern's first pair here, no match
        if len(toks) > 1 and not self._pattern_pairs.isdisjoint(zip(toks, toks[1:], strict=False)):
            return tuple(self._apply_patterns(list(toks)))
        return toks

    # ------------------------------------------------------------------ documents
    def words(self, text: str) -> list[str]:
        """The document's tokens as datatrove's `split_into_words` returns them."""
        chunks = text.split()
        cache = self._chunks
        new = set(unseen(chunks, cache))
        if new:
            if len(cache) + len(new) >= CACHE_LIMIT:
                cache.clear()
                self._memo.clear()
            if self._safe is not None:
                specials = self.specials
                safe = self._safe("\n".join([c for c in new if c not in specials]))
                if self._needless is not None and safe:
                    safe = self._needless("\n".join(safe))
                single = list(zip(safe))  # 1-tuples: the one token of each chunk
                cache.update(zip(safe, single, strict=True))
                self._memo.update(zip(safe, single, strict=True))
                new.difference_update(safe)
            for chunk in new:
                cache[chunk] = self._chunk_tokens(chunk)
        toks = gather(chunks, cache)
        if self._spaced:
            for string, pattern in self._spaced:
                if string in text:
                    toks = self._merge_spaced(text, toks, string, pattern)
        return toks

    def _merge_spaced(self, text: str, toks: list[str], string: str, pattern: tuple[str, ...]) -> list[str]:
        """A special case with a space ("EE. UU."): spaCy merges its tokens when the text between
        them is exactly the special's. Locate each occurrence's tokens by character offsets."""
        merged = tuple(self.specials[string])
        # character start of every token, in order (tokens appear in the text in order)
        pos, starts = 0, []
        for tok in toks:
            pos = text.index(tok, pos)
            starts.append(pos)
            pos += len(tok)
        out, i, n = [], 0, len(pattern)
        while i < len(toks):
            if tuple(toks[i : i + n]) == pattern and text.startswith(string, starts[i]):
                out.extend(merged)
                i += n
            else:
                out.append(toks[i])
                i += 1
        return out

    # ------------------------------------------------------------------ sentences
    def _chunk_sentence_state(self, chunk: str) -> tuple[int, bool, int, bool]:
        """(boundaries, period seen after) of spaCy's sentencizer over the chunk's tokens,
        for "period seen before" = False and = True."""
        toks = self._chunks.get(chunk) or self._chunk_tokens(chunk)
        out: list = []
        for seen in (False, True):
            n = 0
            for tok in toks:
                in_punct = tok in SENTENCE_PUNCT
                if seen and not in_punct and not _is_punct(tok):
                    n += 1
                    seen = False
                elif in_punct:
                    seen = True
            out += [n, seen]
        return tuple(out)

    def sentences(self, line: str) -> int:
        """How many sentences spaCy's sentencizer finds in `line` (stripped, one line of text)."""
        if not line:
            return 0
        if not _SENTENCE_PUNCT_IN(line, 0, len(line) - 1):
            return 1  # a sentence ends after one of these characters when more text follows
        if self._spaced and any(string in line for string, _ in self._spaced):
            return self._sentences_slow(line)
        state = self._sentence
        count, seen = 1, False
        parts = _WHITESPACE.split(line)
        for k, part in enumerate(parts):
            if k % 2:
                # a whitespace run other than one " " is a token of its own: not punctuation
                if part != " " and seen:
                    count += 1
                    seen = False
                continue
            if part:
                n0, s0, n1, s1 = state[part]
                if seen:
                    count += n1
                    seen = s1
                else:
                    count += n0
                    seen = s0
        return count

    def _sentences_slow(self, line: str) -> int:
        """`sentences` token by token, for a line holding a special case with a space."""
        toks: list[str] = []
        for k, part in enumerate(_WHITESPACE.split(line)):
            if k % 2:
                if part != " ":
                    toks.append(part)  # a whitespace token
            elif part:
                toks.extend(self._chunks.get(part) or self._chunk_tokens(part))
        for string, pattern in self._spaced:
            if string in line:
                toks = self._merge_spaced(line, toks, string, pattern)
        count, seen = 1, False
        for tok in toks:
            in_punct = tok in SENTENCE_PUNCT
            if seen and not in_punct and not _is_punct(tok):
                count += 1
                seen = False
            elif in_punct:
                seen = True
        return count


_WHITESPACE = re.compile(r"(\s+)")


def _is_punct(token: str) -> bool:
    return all(unicodedata.category(c).startswith("P") for c in token)


def _sentence_punct() -> frozenset[str]:
    data = json.loads((RULES_DIR / "sentencizer.json").read_text(encoding="utf-8"))
    return frozenset(data["punct_chars"])


SENTENCE_PUNCT = _sentence_punct()
_SENTENCE_PUNCT_IN = _class(
    [{"ranges": [[ord(c), ord(c)] for c in sorted(SENTENCE_PUNCT)], "cats": ""}]
).search


def rules_languages() -> list[str]:
    return sorted(p.name.split(".")[0] for p in RULES_DIR.glob("*.json.gz"))


@cache
def splitter(lang: str | None) -> SpacySplitter:
    """The splitter of `lang`; spaCy's multi-language rules where spaCy has none for it."""
    have = set(rules_languages())
    return SpacySplitter(lang if lang in have else FALLBACK)
