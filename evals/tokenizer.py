"""The tokenizer of a run, with the BOS policy every score in this package uses.

Packed training data is `doc EOD doc EOD ...` (no BOS), so the token the model saw before a document
is the EOD. Policy "eod" (default) conditions the first token of a text on that EOD; "bos" uses the
tokenizer's BOS (for models trained with one). Every text is scored in full: its first token is
predicted too, which is what makes bits-per-byte independent of the tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evals.errors import EvalError

BosPolicy = Literal["eod", "bos"]


@dataclass
class EvalTokenizer:
    hf: object  # transformers.PreTrainedTokenizerFast: lm-eval and generation need its decode()
    path: Path
    sha256: str
    prefix_id: int
    eod_id: int
    bos_policy: str

    def encode(self, text: str) -> list[int]:
        return self.hf.encode(text, add_special_tokens=False)

    def decode(self, ids: list[int]) -> str:
        return self.hf.decode(ids, skip_special_tokens=True)

    @property
    def vocab_size(self) -> int:
        return len(self.hf)

    def describe(self) -> dict:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "bos_policy": self.bos_policy,
            "prefix_id": self.prefix_id,
        }


def load_eval_tokenizer(directory: str | Path, bos_policy: BosPolicy = "eod") -> EvalTokenizer:
    """Load a tokenizer dir through the project's one loader (one end-of-document rule) and resolve
    the prefix token; transformers' tokenizer object is kept for decoding and lm-eval."""
    from transformers import PreTrainedTokenizerFast

    from llm_train.data.tokenizer_dir import load_tokenizer
    from llm_train.errors import DataError

    root = Path(directory)
    try:
        info = load_tokenizer(root)
    except DataError as exc:
        raise EvalError(f"{exc} (set data.tokenizer or pass --tokenizer)") from None
    hf = PreTrainedTokenizerFast.from_pretrained(str(root), local_files_only=True)
    if bos_policy == "bos":
        if info.bos_id is None:
            raise EvalError(f"{root}: bos_policy 'bos' but the tokenizer has no BOS token; use 'eod'")
        prefix = info.bos_id
    elif bos_policy == "eod":
        prefix = info.eod_id
    else:
        raise EvalError(f"unknown bos_policy {bos_policy!r}; expected 'eod' or 'bos'")
    return EvalTokenizer(hf, root, info.sha256, prefix, info.eod_id, bos_policy)


def encode_pair(tokenizer: EvalTokenizer, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Token ids of (context, continuation) as lm-eval's HFLM splits them, the context led by the
    BOS-policy prefix (as every document in training follows an EOD).

    Trailing spaces of the context move to the continuation, the whole string is encoded once and the
    continuation is what follows the context's own encoding; so a word keeps its leading-space token.
    """
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    whole = tokenizer.encode(context + continuation)
    ctx = tokenizer.encode(context)
    return [tokenizer.prefix_id, *ctx], whole[len(ctx) :]


def check_vocab(tokenizer: EvalTokenizer, model_vocab: int) -> int:
    """The number of logits scores normalise over: the tokenizer's ids.

    Rows past them (the spec's spare ids, embedding padding) can never be a target; leaving them out
    of the softmax makes a checkpoint, its megatron form and its HF export (which keep different
    numbers of such rows) score identically.
    """
    if tokenizer.vocab_size > model_vocab:
        raise EvalError(
            f"the tokenizer {tokenizer.path} has {tokenizer.vocab_size} tokens but the model only "
            f"{model_vocab} rows: wrong tokenizer for this checkpoint?"
        )
    return tokenizer.vocab_size
