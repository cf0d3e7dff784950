"""Bits-per-byte and token perplexity per language on held-out text.

BPB = sum NLL (nats) / (ln 2 * UTF-8 bytes): the bytes do not depend on the tokenizer, so models
with different tokenizers compare. Every token of a document is predicted (the first one from the
BOS-policy prefix); the end-of-document token is not, because its cost is a tokenizer convention.
Documents longer than `max_tokens` are cut at a token boundary of the text (the cut text is what is
scored and what the bytes count); long documents go through the scorer's sliding window.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

from evals.scorer import Scorer, rolling_pairs
from evals.tokenizer import EvalTokenizer

log = logging.getLogger(__name__)


@dataclass
class LanguageScore:
    docs: int
    tokens: int
    bytes: int
    nll: float

    @property
    def bpb(self) -> float:
        return self.nll / (math.log(2) * self.bytes) if self.bytes else float("nan")

    @property
    def token_ppl(self) -> float:
        return math.exp(self.nll / self.tokens) if self.tokens else float("nan")

    def to_json(self) -> dict:
        return {**asdict(self), "bpb": self.bpb, "token_ppl": self.token_ppl}


def cut_text(tokenizer: EvalTokenizer, text: str, max_tokens: int) -> str:
    """The longest prefix of `text` that ends at the start of token `max_tokens`."""
    enc = tokenizer.hf(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    return text if len(offsets) <= max_tokens else text[: offsets[max_tokens][0]]


def score_texts(
    scorer: Scorer,
    tokenizer: EvalTokenizer,
    texts: list[str],
    max_tokens: int,
    stride: int | None = None,
    desc: str = "bpb",
) -> LanguageScore:
    """One batched scoring pass over all windows of all texts."""
    stride = stride or scorer.max_length // 2
    pairs, n_bytes, n_tokens, docs = [], 0, 0, 0
    for text in texts:
        text = cut_text(tokenizer, text, max_tokens)
        ids = tokenizer.encode(text)
        if not ids:
            continue
        docs += 1
        n_bytes += len(text.encode("utf-8"))
        n_tokens += len(ids)
        pairs.extend(rolling_pairs(tokenizer.prefix_id, ids, scorer.max_length, stride))
    results = scorer.loglikelihood_tokens(pairs, desc=desc)
    return LanguageScore(docs, n_tokens, n_bytes, -math.fsum(ll for ll, _ in results))


def bpb_per_language(
    scorer: Scorer,
    tokenizer: EvalTokenizer,
    docs: dict[str, list[dict]],
    max_tokens: int,
    stride: int | None = None,
) -> dict:
    """{"languages": {lang: {...}}, "macro_bpb": mean over languages}."""
    per_lang = {}
    for lang, lang_docs in docs.items():
        score = score_texts(
            scorer, tokenizer, [d["text"] for d in lang_docs], max_tokens, stride, f"bpb {lang}"
        )
        per_lang[lang] = score.to_json()
        log.info(
            "bpb %s: %.4f (%d docs, %d bytes, token ppl %.2f)",
            lang,
            score.bpb,
            score.docs,
            score.bytes,
            score.token_ppl,
        )
    values = [v["bpb"] for v in per_lang.values() if not math.isnan(v["bpb"])]
    return {"languages": per_lang, "macro_bpb": sum(values) / len(values) if values else float("nan")}
