"""The tokenizer pipeline we train: NFC -> regex split -> byte-level -> BPE.

The model works on UTF-8 bytes (all 256 are in the initial alphabet), so any string encodes
without an unknown token: unseen characters fall back to their bytes. Text is NFC-normalized
first, so composed and decomposed accents (common in Latvian, Greek, Vietnamese input) share
tokens. Pre-tokenization splits words, numbers (at most 3 digits) and punctuation with the
Unicode-aware regex of GPT-4/Llama-3 style tokenizers; the decoder inverts the byte mapping, so
decode(encode(text)) == NFC(text). `data_prep.pack.encoder` relies on this exact structure.
"""

from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def build_untrained() -> Tokenizer:
    tok = Tokenizer(models.BPE(byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    return tok
