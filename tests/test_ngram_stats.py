"""NGramStats against the plain algorithms of datatrove's GopherRepetitionFilter."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from data_prep.steps.ngram_stats import NGramStats


def reference_top_chars(toks: list[str], n: int) -> int:
    grams = [" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1)]
    gram, count = Counter(grams).most_common(1)[0]
    return len(gram) * count


def reference_duplicated_chars(toks: list[str], n: int) -> int:
    """datatrove's find_all_duplicate, verbatim in spirit: "".join n-grams, greedy skip."""
    unique: set[str] = set()
    repeated = idx = 0
    while idx < len(toks) - n + 1:
        gram = "".join(toks[idx : idx + n])
        if gram in unique:
            repeated += len(gram)
            idx += n
        else:
            unique.add(gram)
            idx += 1
    return repeated


def test_greedy_scan_skips_over_each_repeat():
    toks = list("abcdef") + list("abcdefg") + list("abcde")
    assert NGramStats(toks).duplicated_chars(5) == len("abcde") * 2
    assert NGramStats(list("abcdefgh")).duplicated_chars(5) == 0
    assert NGramStats(list("abc")).duplicated_chars(5) == 0


def test_joined_ngrams_equal_across_different_token_splits():
    # "@@" + "@" and "@" + "@@" are the same string once joined: datatrove counts that as a repeat.
    toks = ["@@", "@", "x", "@", "@@", "x"]
    stats = NGramStats(toks)
    assert stats.duplicated_chars(3) == reference_duplicated_chars(toks, 3) == 4


def test_top_ngram_ties_go_to_the_first_occurrence():
    toks = ["zz", "y", "a", "bbbb", "zz", "y", "a", "bbbb"]
    stats = NGramStats(toks)
    for n in (2, 3, 4):
        assert stats.top_chars(n) == reference_top_chars(toks, n)


@pytest.mark.parametrize("seed", range(40))
def test_random_token_lists_match_the_reference(seed):
    rng = random.Random(seed)
    # A small alphabet of short tokens makes repeats and joined-string collisions frequent.
    vocab = ["a", "b", "ab", "ba", "@", "@@", "der", "die", "und", ".", ",", "Ω", "łó"]
    toks = [rng.choice(vocab) for _ in range(rng.randint(1, 400))]
    stats = NGramStats(toks)
    for n in (2, 3, 4):
        if len(toks) >= n:
            assert stats.top_chars(n) == reference_top_chars(toks, n), n
    for n in range(5, 11):
        assert stats.duplicated_chars(n) == reference_duplicated_chars(toks, n), n


def test_documents_longer_than_the_shared_power_table_and_then_shorter_ones():
    """The substring hashes use one table of powers grown on demand: a long document grows it,
    and documents before and after it give the reference's answers."""
    rng = random.Random(7)
    vocab = ["ab", "ba", "@", "@@", "Ω", "łó", "und", "der"]
    for size in (50, 40_000, 60):  # ~100k characters in the middle one
        toks = [rng.choice(vocab) for _ in range(size)]
        stats = NGramStats(toks)
        for n in (5, 8, 10):
            assert stats.duplicated_chars(n) == reference_duplicated_chars(toks, n), (size, n)


def test_the_compiled_counter_and_id_lookup_are_built():
    from data_prep.steps import ngram_stats, text_stats

    assert ngram_stats.ngram_profile is not None, ngram_stats.NOT_BUILT
    assert text_stats.lookup_ids is not text_stats._lookup_ids, ngram_stats.NOT_BUILT


def test_token_ids_are_the_same_with_and_without_the_compiled_lookup(monkeypatch):
    from data_prep.steps import text_stats

    toks = ["der", "Hund", ",", "der", "Ω", "Hund", "neu-wort", "der"]
    compiled = text_stats.DocTokens(list(toks)).ids
    monkeypatch.setattr(text_stats, "lookup_ids", text_stats._lookup_ids)
    assert text_stats.DocTokens(list(toks)).ids.tolist() == compiled.tolist()
    assert len(set(compiled.tolist())) == len(set(toks))
