"""The little megatron-core needs from a tokenizer (vocab size, EOD), and byte counts for BPB."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from megatron.core.tokenizers import MegatronTokenizerBase

EOD_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>", "<|eot|>", "<eod>")


class PackedDataTokenizer(MegatronTokenizerBase):
    """Satisfies `GPTDatasetConfig.tokenizer`: GPTDataset reads `eod`, `pad` and `vocab_size` only.

    Training reads token ids that are already packed, so no text is tokenized here; `hf_dir`
    (tokenizer.json) is loaded only to count bytes for bits-per-byte.
    """

    def __init__(self, vocab_size: int, eod: int = 0, hf_dir: str | None = None):
        super().__init__(hf_dir or "", {})
        self._vocab_size = vocab_size
        self.eod = eod
        self.hf_dir = hf_dir

    @classmethod
    def from_dir(cls, vocab_size: int, hf_dir: str | None) -> PackedDataTokenizer:
        if not hf_dir or not (Path(hf_dir) / "tokenizer.json").is_file():
            return cls(vocab_size, 0, None)
        tok = _load_hf(hf_dir)
        eod = tok.eos_token_id
        if eod is None:
            vocab = tok.get_vocab()
            eod = next((vocab[t] for t in EOD_CANDIDATES if t in vocab), 0)
        return cls(vocab_size, int(eod), hf_dir)

    @property
    def unique_identifiers(self) -> dict:
        # Part of megatron-core's index-cache key: only what changes the samples.
        return {"class": "PackedDataTokenizer", "vocab_size": self._vocab_size, "eod": self.eod}

    @cached_property
    def hf(self):
        return _load_hf(self.hf_dir) if self.hf_dir else None

    def num_bytes(self, ids) -> int | None:
        """UTF-8 bytes of the text these ids decode to (None without tokenizer.json)."""
        if self.hf is None:
            return None
        return len(self.hf.decode(list(ids), skip_special_tokens=True).encode("utf-8"))

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def pad(self) -> int:
        return -1  # packed sequences are full: no padding id (megatron then masks nothing)

    def tokenize(self, text):
        raise NotImplementedError("training reads packed token ids")

    def detokenize(self, ids):
        return self.hf.decode(list(ids)) if self.hf is not None else None

    def vocab(self):
        return self.hf.get_vocab() if self.hf is not None else {}

    def apply_chat_template(self, *args, **kwargs):
        raise NotImplementedError


def _load_hf(hf_dir: str):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_file=str(Path(hf_dir) / "tokenizer.json"))
