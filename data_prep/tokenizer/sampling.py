"""A language-balanced, deterministic sample of a clean corpus for tokenizer training.

Each language gets a share p_l proportional to (n_l / N) ** alpha of the sample, where n_l is its
text size in bytes (alpha = 1: as in the corpus; alpha -> 0: uniform). With the default 0.3 (the
value XLM-R and mT5 settled on) a language with 1/100 of German's text still gets about a quarter
of German's share, so German, French and English cannot crowd Maltese, Irish, Latvian or Greek
out of the merges. Small languages are repeated to reach their share, at most `max_repeat` times.

Which documents are taken (and how often) is decided by a seeded hash of the document, never by
file order, so the sample is spread over the whole corpus and identical for a fixed seed.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from data_prep.readers import ReadResult
from data_prep.readers.corpus import CorpusFile, read_corpus_file


@dataclass
class LanguageShare:
    lang: str
    corpus_bytes: int
    corpus_docs: int
    share: float  # p_l, the fraction of the sample this language should be
    rate: float  # expected copies of each document in the sample (< 1: subsample, > 1: repeat)

    @property
    def sample_bytes(self) -> int:
        return round(self.corpus_bytes * self.rate)


def temperature_shares(sizes: dict[str, int], alpha: float) -> dict[str, float]:
    """p_l = (n_l/N)^alpha / sum_k (n_k/N)^alpha over languages with data."""
    total = sum(sizes.values())
    raw = {lang: (n / total) ** alpha for lang, n in sizes.items() if n > 0}
    norm = sum(raw.values())
    return {lang: value / norm for lang, value in raw.items()}


def measure(files: list[CorpusFile], report: ReadResult) -> dict[str, tuple[int, int]]:
    """(text bytes, documents) per language, read from the documents themselves."""
    sizes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for file in files:
        entry = sizes[file.lang]
        for doc in read_corpus_file(file.path, report):
            entry[0] += len(doc.text.encode("utf-8"))
            entry[1] += 1
    return {lang: (b, d) for lang, (b, d) in sizes.items()}


def plan_shares(
    sizes: dict[str, tuple[int, int]], alpha: float, sample_bytes: int, max_repeat: float
) -> list[LanguageShare]:
    text_bytes = {lang: b for lang, (b, _) in sizes.items()}
    shares = temperature_shares(text_bytes, alpha)
    budget = min(sample_bytes, sum(text_bytes.values()))
    plan = []
    for lang in sorted(shares):
        n_bytes, n_docs = sizes[lang]
        rate = min(shares[lang] * budget / n_bytes, max_repeat)
        plan.append(LanguageShare(lang, n_bytes, n_docs, shares[lang], rate))
    return plan


def copies(seed: int, lang: str, key: str, rate: float) -> int:
    """floor(rate) copies, plus one more with probability frac(rate), decided by a seeded hash."""
    whole = math.floor(rate)
    frac = rate - whole
    if frac == 0.0:
        return whole
    digest = hashlib.blake2b(f"{seed}\0{lang}\0{key}".encode(), digest_size=8).digest()
    return whole + (int.from_bytes(digest, "little") / 2**64 < frac)


def iter_sample(
    files: list[CorpusFile], plan: list[LanguageShare], seed: int, report: ReadResult
) -> Iterator[str]:
    rates = {share.lang: share.rate for share in plan}
    for file in files:
        rate = rates.get(file.lang, 0.0)
        if rate <= 0:
            continue
        for doc in read_corpus_file(file.path, report):
            # Documents without an id get one from their position, stable for a fixed corpus.
            key = doc.id
            text = doc.text
            for _ in range(copies(seed, file.lang, key, rate)):
                yield text
