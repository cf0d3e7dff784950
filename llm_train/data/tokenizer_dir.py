"""A tokenizer directory: the one loader, with the one end-of-document rule (packed-data contract).

`pack`, `pack --verify`, the trainer's datasets and every evaluation load tokenizers here, so the
end-of-document id `pack` appends after every document is the one the trainer and evals use.

- `tokenizer.json`: an HF `tokenizers` file, loadable by `transformers.PreTrainedTokenizerFast`.
- `llm_train_tokenizer.json` (written by `llm-train tokenizer`): `vocab_size`, `eod_id` (and
  `eod_token`), `bos_id`, `pad_id`. It is the authority: a mismatch with tokenizer.json is an error.
- Without it, any HF tokenizer directory whose `tokenizer_config.json` names an `eos_token`: that
  token is the end of document (what HF models are trained with).
- Neither: refused, since a guessed end-of-document id would silently mix documents.

Packed token files are uint16 below 65,500 tokens, else int32 (`token_dtype`, megatron-core's rule).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from llm_train.errors import DataError

TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"
METADATA_FILE = "llm_train_tokenizer.json"
METADATA_VERSION = 1

# Same rule as megatron-core's DType.optimal_dtype (and its preprocess_data.py): uint16 below 65500.
UINT16_LIMIT = 65500


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size < UINT16_LIMIT else np.dtype(np.int32)


@dataclass
class TokenizerInfo:
    path: Path
    tokenizer: Tokenizer
    vocab_size: int
    eod_id: int
    bos_id: int | None
    pad_id: int | None
    sha256: str

    @property
    def dtype(self) -> np.dtype:
        return token_dtype(self.vocab_size)

    def describe(self) -> dict:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "vocab_size": self.vocab_size,
            "eod_id": self.eod_id,
            "bos_id": self.bos_id,
            "pad_id": self.pad_id,
            "dtype": self.dtype.name,
        }


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None


def _token_id(tok: Tokenizer, token: object, what: str, where: Path) -> int | None:
    if token is None:
        return None
    if isinstance(token, dict):  # transformers writes AddedToken objects as dicts
        token = token.get("content")
    tid = tok.token_to_id(str(token))
    if tid is None:
        raise DataError(f"{where}: {what} token {token!r} is not in the vocabulary of {TOKENIZER_FILE}")
    return tid


def load_tokenizer(directory: str | Path) -> TokenizerInfo:
    """Load and check a tokenizer directory; every problem names the file and what was expected."""
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"tokenizer directory not found: {root}")
    tok_path = root / TOKENIZER_FILE
    if not tok_path.is_file():
        present = ", ".join(sorted(p.name for p in root.iterdir())) or "nothing"
        raise DataError(
            f"{root}: missing {TOKENIZER_FILE} (found: {present}); train one with `llm-train tokenizer`"
        )
    raw = tok_path.read_bytes()
    try:
        tok = Tokenizer.from_str(raw.decode("utf-8"))
    except Exception as exc:  # tokenizers raises a bare Exception on malformed files
        raise DataError(f"{tok_path}: not a valid HF tokenizers file: {exc}") from None
    vocab = tok.get_vocab_size(with_added_tokens=True)

    meta_path = root / METADATA_FILE
    config_path = root / CONFIG_FILE
    if meta_path.is_file():
        meta = _read_json(meta_path)
        for key in ("vocab_size", "eod_id"):
            if not isinstance(meta.get(key), int):
                raise DataError(f"{meta_path}: key {key!r} must be an integer (got {meta.get(key)!r})")
        if meta["vocab_size"] != vocab:
            raise DataError(
                f"{meta_path}: vocab_size {meta['vocab_size']} does not match {TOKENIZER_FILE} ({vocab} tokens); "
                "the directory mixes files of different tokenizers"
            )
        eod, bos, pad = meta["eod_id"], meta.get("bos_id"), meta.get("pad_id")
        eos_token = meta.get("eod_token")
        if eos_token is not None and tok.token_to_id(eos_token) != eod:
            raise DataError(
                f"{meta_path}: eod_token {eos_token!r} has id {tok.token_to_id(eos_token)}, not {eod}"
            )
    elif config_path.is_file():
        config = _read_json(config_path)
        if config.get("eos_token") is None:
            raise DataError(f"{config_path}: no eos_token, so the end-of-document id is unknown")
        eod = _token_id(tok, config.get("eos_token"), "eos", config_path)
        bos = _token_id(tok, config.get("bos_token"), "bos", config_path)
        pad = _token_id(tok, config.get("pad_token"), "pad", config_path)
    else:
        raise DataError(
            f"{root}: missing {METADATA_FILE} and {CONFIG_FILE}; cannot tell the end-of-document id"
        )
    if not 0 <= eod < vocab:
        raise DataError(f"{root}: eod id {eod} outside the vocabulary (size {vocab})")
    return TokenizerInfo(root, tok, vocab, eod, bos, pad, hashlib.sha256(raw).hexdigest())
