"""A tokenizer directory as the megatron-core tokenizer object its datasets want, plus byte counts.

`GPTDatasetConfig.tokenizer` must be a `MegatronTokenizerBase`; GPTDataset reads `eod`, `pad`,
`vocab_size` and `special_tokens_dict` of it. megatron-core's own HuggingFace wrapper goes through
`transformers.AutoTokenizer`; this one reads `tokenizer.json` with HF `tokenizers` (offline, light).
The trainer builds it with `from_dir` (training reads packed ids, so the tokenizer is optional and
only counts bytes for bits-per-byte); data_prep builds it from its checked `TokenizerInfo`
(`data_prep.tokenizer.megatron_adapter`), so the special ids are exactly the ones `pack` wrote.
"""

from __future__ import annotations

import logging
from pathlib import Path

from megatron.core.tokenizers import MegatronTokenizerBase
from tokenizers import Tokenizer

from llm_train.errors import DataError

log = logging.getLogger(__name__)

TOKENIZER_FILE = "tokenizer.json"
EOD_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>", "<|eot|>", "<eod>")


class PackedDataTokenizer(MegatronTokenizerBase):
    def __init__(
        self,
        vocab_size: int,
        eod: int = 0,
        hf: Tokenizer | None = None,
        *,
        path: str | None = None,
        bos: int | None = None,
        pad: int | None = None,
    ):
        super().__init__(path or "", {})
        self._vocab_size = vocab_size
        self._eod, self._bos, self._pad = eod, bos, pad
        self.hf = hf  # None: ids only (no tokenize/detokenize, no byte counts)

    @classmethod
    def from_dir(cls, hf_dir: str | Path | None, vocab_size: int | None = None) -> PackedDataTokenizer:
        """`hf_dir`'s tokenizer.json; `vocab_size` overrides its size (the model's padded vocabulary).

        Without a tokenizer.json only `vocab_size` is known and the EOD id is taken to be 0.
        """
        file = Path(hf_dir) / TOKENIZER_FILE if hf_dir else None
        if file is None or not file.is_file():
            if vocab_size is None:
                raise DataError(f"{hf_dir}: no {TOKENIZER_FILE}, so the vocabulary size is unknown")
            log.info("no %s in %s: no bits-per-byte", TOKENIZER_FILE, hf_dir)
            return cls(vocab_size)
        try:
            hf = Tokenizer.from_file(str(file))
        except Exception as exc:  # tokenizers raises a bare Exception on malformed files
            raise DataError(f"{file}: not a valid HF tokenizers file: {exc}") from None
        vocab = hf.get_vocab(with_added_tokens=True)
        eod = next((vocab[t] for t in EOD_CANDIDATES if t in vocab), 0)
        size = vocab_size if vocab_size is not None else hf.get_vocab_size(with_added_tokens=True)
        return cls(size, eod, hf, path=str(hf_dir))

    @property
    def unique_identifiers(self) -> dict:
        # Part of megatron-core's index-cache key: what the dataset reads of the tokenizer.
        return {"class": "PackedDataTokenizer", "vocab_size": self._vocab_size, "eod": self._eod}

    def _require_hf(self) -> Tokenizer:
        if self.hf is None:
            raise DataError("this tokenizer has no tokenizer.json: it knows token ids only")
        return self.hf

    def num_bytes(self, ids) -> int | None:
        """UTF-8 bytes of the text these ids decode to (None without tokenizer.json)."""
        if self.hf is None:
            return None
        return len(self.hf.decode([int(i) for i in ids], skip_special_tokens=True).encode("utf-8"))

    def tokenize(self, text: str) -> list[int]:
        return self._require_hf().encode(text, add_special_tokens=False).ids

    def detokenize(self, ids) -> str:
        return self._require_hf().decode([int(i) for i in ids], skip_special_tokens=False)

    def apply_chat_template(self, *args, **kwargs):
        raise NotImplementedError("pretraining tokenizer: no chat template")

    @property
    def vocab(self) -> dict[str, int]:
        return self.hf.get_vocab(with_added_tokens=True) if self.hf is not None else {}

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
