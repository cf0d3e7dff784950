"""A tokenizer directory as the megatron-core tokenizer object its datasets want, plus byte counts.

`GPTDatasetConfig.tokenizer` must be a `MegatronTokenizerBase`; GPTDataset reads `eod`, `pad`,
`vocab_size` and `special_tokens_dict` of it. megatron-core's own HuggingFace wrapper goes through
`transformers.AutoTokenizer`; this one reads `tokenizer.json` with HF `tokenizers` (offline, light).
It is built from `tokenizer_dir.load_tokenizer`'s checked `TokenizerInfo`, so the special ids are
exactly the ones `pack` wrote, for the trainer and for data_prep alike.
"""

from __future__ import annotations

from pathlib import Path

from megatron.core.tokenizers import MegatronTokenizerBase
from tokenizers import Tokenizer

from llm_train.data.tokenizer_dir import TokenizerInfo, load_tokenizer


class PackedDataTokenizer(MegatronTokenizerBase):
    def __init__(
        self,
        vocab_size: int,
        eod: int,
        hf: Tokenizer,
        *,
        path: str,
        bos: int | None = None,
        pad: int | None = None,
    ):
        super().__init__(path, {})
        self._vocab_size = vocab_size
        self._eod, self._bos, self._pad = eod, bos, pad
        self.hf = hf

    @classmethod
    def from_info(cls, info: TokenizerInfo, vocab_size: int | None = None) -> PackedDataTokenizer:
        """`vocab_size` overrides the tokenizer's size (the model's padded vocabulary)."""
        return cls(
            info.vocab_size if vocab_size is None else vocab_size,
            info.eod_id,
            info.tokenizer,
            path=str(info.path),
            bos=info.bos_id,
            pad=info.pad_id,
        )

    @classmethod
    def from_dir(cls, directory: str | Path, vocab_size: int | None = None) -> PackedDataTokenizer:
        return cls.from_info(load_tokenizer(directory), vocab_size)

    @property
    def unique_identifiers(self) -> dict:
        # Part of megatron-core's index-cache key: what the dataset reads of the tokenizer.
        return {"class": "PackedDataTokenizer", "vocab_size": self._vocab_size, "eod": self._eod}

    def num_bytes(self, ids) -> int:
        """UTF-8 bytes of the text these ids decode to."""
        return len(self.hf.decode([int(i) for i in ids], skip_special_tokens=True).encode("utf-8"))

    def tokenize(self, text: str) -> list[int]:
        return self.hf.encode(text, add_special_tokens=False).ids

    def detokenize(self, ids) -> str:
        return self.hf.decode([int(i) for i in ids], skip_special_tokens=False)

    def apply_chat_template(self, *args, **kwargs):
        raise NotImplementedError("pretraining tokenizer: no chat template")

    @property
    def vocab(self) -> dict[str, int]:
        return self.hf.get_vocab(with_added_tokens=True)

    @property
    def inv_vocab(self) -> dict[int, str]:
        return {i: t for t, i in self.vocab.items()}

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def eod(self) -> int:
        return self._eod

    @property
    def eos(self) -> int:
        return self._eod

    @property
    def bos(self) -> int | None:
        return self._bos

    @property
    def pad(self) -> int:
        # -1 never occurs in packed data, so megatron-core then masks and replaces nothing.
        return self._pad if self._pad is not None else -1

    @property
    def special_tokens_dict(self) -> dict[str, int]:
        # megatron-core checks the pad id against these (an ambiguous pad would be masked as padding).
        out = {"eos_token": self._eod}
        if self._bos is not None:
            out["bos_token"] = self._bos
        if self._pad is not None:
            out["pad_token"] = self._pad
        return out
