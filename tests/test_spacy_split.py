"""The spaCy-rule splitter's shortcuts give what its reference loop gives, on the sample corpus.

`SpacySplitter._split_chunk` is spaCy's `_split_affixes` + `_attach_tokens` written as a loop (its
agreement with spaCy itself is measured by benchmarks/prep_vs_datatrove.py and pinned by
tests/test_text_stats.py). The fast paths must not change a single token: the memoized
recursion (`_raw`), the bulk regex for chunks no rule can touch, the alternatives tried one by
one instead of the whole regex, and the one-sentence shortcut.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from data_prep.steps.spacy_split import SpacySplitter, rules_languages

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def sample_chunks() -> dict[str, set[str]]:
    chunks: dict[str, set[str]] = {}
    for path in sorted(SAMPLE.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                doc = json.loads(line)
                lang = doc["meta"]["declared_lang"].split("-")[0]
                chunks.setdefault(lang, set()).update(doc["text"].split())
    return chunks


CHUNKS = sample_chunks()
# Languages of several rule families: hyphen compounds, elision + token_match, Polish dots, a
# nullable suffix (Hungarian), Greek, the multi-language fallback.
LANGS = ["de", "en", "fr", "hu", "pl", "el", "it"]


@pytest.mark.parametrize("lang", LANGS)
def test_fast_paths_equal_the_reference_loop(lang):
    fast, ref = SpacySplitter(lang), SpacySplitter(lang)
    chunks = sorted(CHUNKS[lang])[:6000]
    # the bulk path first, as documents use it, then chunk by chunk
    bulk = fast.words(" ".join(chunks))
    expected = []
    for chunk in chunks:
        toks = ref._split_chunk(chunk)
        if len(toks) > 1:
            toks = ref._apply_patterns(toks)
        expected += toks
        assert list(fast._raw(chunk)) == ref._split_chunk(chunk), chunk
    assert bulk == expected


def test_one_sentence_shortcut_and_spaced_specials():
    es = SpacySplitter("es")
    # "EE. UU." is one token in Spanish: its dots end no sentence
    line = "Se utiliza el método de EE. UU. (NASD). Si el tipo es distinto, se utiliza otro."
    assert es.sentences(line) == 2  # spaCy 3.8: two sentences, split after "(NASD)."
    assert "EE. UU." in es.words(line)
    assert es.sentences("Una frase sin punto final") == 1
    assert es.sentences("Hola. Adiós.") == 2


def test_every_language_loads():
    for lang in rules_languages():
        splitter = SpacySplitter(lang)
        assert splitter.words("A test, of (some) words.")


def test_generated_rules_rebuild_spacy_patterns():
    # the alternatives joined by "|" are the regex spaCy compiles (checked by the generator too)
    with gzip.open(Path(__file__).resolve().parents[1] / "data_prep/resources/spacy/de.json.gz", "rt") as f:
        data = json.load(f)
    for key in ("prefix", "suffix", "infix"):
        re.compile("|".join(a["src"] for a in data[key]))
        assert all({"first", "last", "need", "nullable", "maxwidth"} <= set(a) for a in data[key])


def test_the_word_cache_loops_are_the_same_compiled_or_not(monkeypatch):
    """spacy_split's chunk-cache look-ups (C when built) against their Python versions."""
    import types

    from data_prep.steps import spacy_split

    text = "Der Hund (bellt), und der Hund bellt. usw. z.B. e-mail: a@b.de — 12,5 % \u00a0 ok"
    assert isinstance(spacy_split.unseen, types.BuiltinFunctionType), "data_prep.steps._native not built"
    compiled = spacy_split.SpacySplitter("de").words(text)
    monkeypatch.setattr(spacy_split, "unseen", lambda keys, mapping: list(set(keys).difference(mapping)))
    monkeypatch.setattr(spacy_split, "gather", lambda keys, mapping: [t for k in keys for t in mapping[k]])
    assert spacy_split.SpacySplitter("de").words(text) == compiled
