"""Our tokenizer directory as a megatron-core tokenizer object.

megatron-core's datasets (`GPTDatasetConfig.tokenizer`) want a `MegatronTokenizerBase` with
`eod`, `pad`, `vocab_size`, `tokenize`/`detokenize`. Its own HuggingFace wrapper goes through
`transformers.AutoTokenizer` and a metadata file; this adapter reads `tokenizer.json` directly
with HF `tokenizers` (no network, no transformers import) and takes the special ids from our
metadata, so the ids megatron masks and pads with are exactly the ones `pack` wrote.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from megatron.core.tokenizers import MegatronTokenizerBase

from data_prep.tokenizer.load import TokenizerInfo, load_tokenizer


class HFTokenizerAdapter(MegatronTokenizerBase):
    def __init__(self, path: str | Path | TokenizerInfo, **kwargs) -> None:
        info = path if isinstance(path, TokenizerInfo) else load_tokenizer(path)
        super().__init__(str(info.path), config={"library": "huggingface", "model_type": "gpt"}, **kwargs)
        self.info = info
        self._tok = info.tokenizer
        # megatron-core puts this into its dataset cache hashes (unique_description).
        self.unique_identifiers = OrderedDict(
            [("class", type(self).__name__), ("tokenizer_path", [str(info.path)]), ("sha256", info.sha256)]
        )

    def tokenize(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def detokenize(self, ids) -> str:
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=False)

    def apply_chat_template(self, *args, **kwargs):
        raise NotImplementedError("pretraining tokenizer: no chat template")

    @property
    def vocab(self) -> dict[str, int]:
        return self._tok.get_vocab(with_added_tokens=True)

    @property
    def inv_vocab(self) -> dict[int, str]:
        return {i: t for t, i in self.vocab.items()}

    @property
    def vocab_size(self) -> int:
        return self.info.vocab_size

    @property
    def eod(self) -> int:
        return self.info.eod_id

    @property
    def eos(self) -> int:
        return self.info.eod_id

    @property
    def eos_id(self) -> int:
        return self.info.eod_id

    @property
    def bos(self) -> int | None:
        return self.info.bos_id

    @property
    def pad(self) -> int:
        # megatron-core pads with -1 when the tokenizer has no pad; ours always has one (id 0).
        return self.info.pad_id if self.info.pad_id is not None else -1

    @property
    def special_tokens_dict(self) -> dict[str, int]:
        out = {"eos_token": self.info.eod_id}
        if self.info.bos_id is not None:
            out["bos_token"] = self.info.bos_id
        if self.info.pad_id is not None:
            out["pad_token"] = self.info.pad_id
        return out
