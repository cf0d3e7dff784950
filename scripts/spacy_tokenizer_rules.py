#!/usr/bin/env python3
"""Generate the word-splitting rules of spaCy's blank tokenizers as small data files.

datatrove's quality filters count words with `spacy.blank(lang)`'s tokenizer. Our filters follow
the same algorithm (data_prep/steps/spacy_split.py) on the same rules, generated once from spaCy by
this script and shipped in data_prep/resources/spacy/ with spaCy's MIT licence notice, so the
project does not depend on spaCy at run time. Rerun it when moving to another spaCy version:

    .venv-bench/bin/python scripts/spacy_tokenizer_rules.py      # a venv with spaCy 3.8

Per language, one `<lang>.json.gz`: the prefix, suffix and infix regexes, `token_match` and
`url_match` (pattern and flags, compiled with Python's `re` exactly as spaCy does), and the
special cases (string -> the texts of its tokens). `sentencizer.json` holds the characters after
which spaCy's sentencizer ends a sentence. Output is byte-identical for a given spaCy version.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from regex_sets import analyse, first_ignoring_case, guard, head  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "data_prep" / "resources" / "spacy"
# The EU languages; Maltese has no spaCy language, "xx" is spaCy's multi-language tokenizer.
LANGS = [
    "bg",
    "cs",
    "da",
    "de",
    "el",
    "en",
    "es",
    "et",
    "fi",
    "fr",
    "ga",
    "hr",
    "hu",
    "it",
    "lt",
    "lv",
    "nl",
    "pl",
    "pt",
    "ro",
    "sk",
    "sl",
    "sv",
    "xx",
]


def pattern(fn) -> list | None:
    """A tokenizer callable as [pattern, flags]; only bound methods of compiled regexes occur."""
    if fn is None:
        return None
    regex = getattr(fn, "__self__", None)
    if not isinstance(regex, re.Pattern):
        raise SystemExit(f"not a compiled regex method: {fn!r}; extend the generator")
    return [regex.pattern, int(regex.flags)]


def split_alternatives(source: str) -> list[str]:
    """The top-level `|` alternatives of a regex source (spaCy joins its rules with `|`)."""
    alts, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(source):
        c = source[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            # a "]" right after "[" or "[^" is a literal
            if source[i + 1 : i + 2] == "^":
                i += 1
            if source[i + 1 : i + 2] == "]":
                i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            alts.append(source[start:i])
            start = i + 1
        i += 1
    alts.append(source[start:])
    return alts


def alternatives(spec: list | None) -> list[dict] | None:
    """Each alternative of an affix regex with what lets the splitter skip it (regex_sets)."""
    if spec is None:
        return None
    source, flags = spec
    alts = split_alternatives(source)
    if "|".join(alts) != source:
        raise SystemExit("alternatives do not rebuild the pattern")
    return [{"src": a, **analyse(a, flags)} for a in alts]


def token_match(spec: list | None) -> dict | None:
    """`token_match` (French: 1.4 MB, seconds to compile) as alternatives the splitter compiles
    one by one when a chunk starts with a character they can start with."""
    if spec is None:
        return None
    source, flags = spec
    alts = split_alternatives(source)
    if "|".join(alts) != source:
        raise SystemExit("token_match alternatives do not rebuild the pattern")
    inline = re.match(r"\(\?[a-zA-Z]+\)", alts[0])
    if inline:  # global flags written in the pattern: give them to every alternative
        flags |= re.compile(inline.group(0)).flags
        alts[0] = alts[0][len(inline.group(0)) :]
    return {
        "flags": flags,
        "guard": guard(spec),
        "alternatives": [
            {"src": a, "first": first_ignoring_case(a, flags), "head": head(a, flags)} for a in alts
        ],
    }


def rules(lang: str) -> dict:
    import spacy
    from spacy.symbols import ORTH

    nlp = spacy.blank(lang)
    tok = nlp.tokenizer
    specials = {}
    for string, subtokens in sorted(tok.rules.items()):
        specials[string] = [t.get(ORTH, t.get("ORTH")) for t in subtokens]
        if "".join(specials[string]) != string:
            raise SystemExit(f"{lang}: special case {string!r} does not spell its string")
    return {
        "lang": lang,
        "spacy": spacy.__version__,
        "prefix": alternatives(pattern(tok.prefix_search)),
        "suffix": alternatives(pattern(tok.suffix_search)),
        "infix": alternatives(pattern(tok.infix_finditer)),
        "token_match": token_match(pattern(tok.token_match)),
        "url_match": pattern(tok.url_match),
        "specials": specials,
        "matcher": matcher_patterns(nlp),
    }


def matcher_patterns(nlp) -> dict[str, list[str]]:
    """Special cases spaCy re-applies after splitting (its `_special_matcher`), each with the
    tokens the affix rules alone make of it (`_tokenize_affixes(string, False)`)."""
    from spacy.tokenizer import Tokenizer

    tok = nlp.tokenizer
    bare = Tokenizer(
        nlp.vocab,
        rules={},
        prefix_search=tok.prefix_search,
        suffix_search=tok.suffix_search,
        infix_finditer=tok.infix_finditer,
        token_match=tok.token_match,
        url_match=tok.url_match,
    )
    return {
        string: [t.text for t in bare(string)]
        for string in sorted(tok.rules)
        if not tok.faster_heuristics
        or tok.find_prefix(string)
        or tok.find_infix(string)
        or tok.find_suffix(string)
        or " " in string
    }


def write_gz(path: Path, data: dict) -> None:
    raw = json.dumps(data, ensure_ascii=False, sort_keys=True, indent=0).encode("utf-8")
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz:
        gz.write(raw)
    tmp.replace(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--langs", default=",".join(LANGS))
    args = ap.parse_args()
    import spacy
    from spacy.pipeline import Sentencizer

    args.out.mkdir(parents=True, exist_ok=True)
    for lang in args.langs.split(","):
        write_gz(args.out / f"{lang}.json.gz", rules(lang))
        print(f"{lang}: {(args.out / f'{lang}.json.gz').stat().st_size} bytes")
    punct = {"spacy": spacy.__version__, "punct_chars": sorted(Sentencizer.default_punct_chars)}
    (args.out / "sentencizer.json").write_text(json.dumps(punct, ensure_ascii=False, indent=0) + "\n")
    (args.out / "NOTICE.txt").write_text(notice(spacy.__version__), encoding="utf-8")


def notice(version: str) -> str:
    """The data files are derived from spaCy's language data: its MIT licence travels with them."""
    from importlib.metadata import distribution

    dist = distribution("spacy")
    licence = next(f for f in dist.files if f.name.startswith("LICENSE"))
    return (
        f"The *.json.gz and sentencizer.json files here are generated from spaCy {version}'s tokenizer\n"
        "rules (prefix, suffix and infix patterns, tokenizer exceptions, sentencizer punctuation) by\n"
        "scripts/spacy_tokenizer_rules.py. spaCy is distributed under the following licence.\n\n"
        + licence.read_text(encoding="utf-8")
    )


if __name__ == "__main__":
    main()
