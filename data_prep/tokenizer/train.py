"""Train a multilingual byte-level BPE with HF `tokenizers` and save a transformers-loadable dir.

The pipeline itself (normalizer, pre-tokenizer, model) is in `model.py`; this module picks the
language-balanced sample, trains, measures fertility and writes the directory atomically.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tokenizers import Tokenizer, pre_tokenizers, trainers

from data_prep.readers import ReadResult
from data_prep.readers.corpus import discover
from data_prep.tokenizer import sampling
from data_prep.tokenizer.fertility import measure_fertility, render_table
from data_prep.tokenizer.model import build_untrained
from data_prep.tokenizer.specials import BOS, EOS, PAD, reserved_tokens, special_tokens
from llm_train import storage
from llm_train.data.tokenizer_dir import METADATA_FILE, METADATA_VERSION
from llm_train.errors import DataError
from llm_train.utils.atomic import atomic_replace_dir, atomic_write_json

logger = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    vocab_size: int = 32768
    alpha: float = 0.3
    sample_bytes: int = 1_000_000_000
    max_repeat: float = 4.0
    seed: int = 1234
    min_frequency: int = 2
    reserved: int = 8
    langs: list[str] | None = None
    fertility_bytes: int = 4_000_000

    def check(self) -> None:
        specials = 3 + self.reserved
        if self.vocab_size < 256 + specials + 1:
            raise DataError(
                f"--vocab-size must be > 256 bytes + {specials} special tokens (got {self.vocab_size})"
            )
        if not 0.0 < self.alpha <= 1.0:
            raise DataError(f"--alpha must be in (0, 1] (got {self.alpha})")
        if self.max_repeat < 1.0:
            raise DataError(f"--max-repeat must be >= 1 (got {self.max_repeat})")


def train(corpus: str | Path, output: str | Path, options: TrainOptions) -> dict:
    """Train on a balanced sample of `<corpus>/*/train`, measure fertility on validation, save."""
    options.check()
    started = time.monotonic()
    report = ReadResult()
    files = discover(corpus, "train", options.langs)
    logger.info("measuring %d train files", len(files))
    sizes = sampling.measure(files, report)
    plan = sampling.plan_shares(sizes, options.alpha, options.sample_bytes, options.max_repeat)
    for share in plan:
        logger.info(
            "%s: %d bytes in corpus, share %.4f, rate %.3f -> ~%d bytes",
            share.lang,
            share.corpus_bytes,
            share.share,
            share.rate,
            share.sample_bytes,
        )

    tok = build_untrained()
    trainer = trainers.BpeTrainer(
        vocab_size=options.vocab_size,
        min_frequency=options.min_frequency,
        special_tokens=special_tokens(options.reserved),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=True,
    )
    expected_docs = sum(round(s.corpus_docs * s.rate) for s in plan)
    tok.train_from_iterator(
        sampling.iter_sample(files, plan, options.seed, report), trainer, length=expected_docs
    )

    try:
        valid_files = discover(corpus, "validation", options.langs)
    except DataError:
        logger.warning("no validation split in %s: fertility measured on the train split", corpus)
        valid_files = files
    fertility = measure_fertility(tok, valid_files, options.fertility_bytes, report)
    metadata = save(tok, Path(output), options, plan, fertility, report)
    print(render_table(fertility))
    elapsed = time.monotonic() - started
    skipped = sum(report.skipped.values())
    print(
        f"tokenizer: vocab {metadata['vocab_size']} from {len(plan)} languages "
        f"({sum(s.sample_bytes for s in plan) / 1e6:.1f} MB sampled), {skipped} bad lines skipped, "
        f"{elapsed:.1f}s -> {output}"
    )
    return metadata


def save(
    tok: Tokenizer,
    output: Path,
    options: TrainOptions,
    plan: list[sampling.LanguageShare],
    fertility: dict,
    report: ReadResult,
) -> dict:
    # transformers writes tokenizer_config.json / special_tokens_map.json in the format it reads back.
    from transformers import PreTrainedTokenizerFast

    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=reserved_tokens(options.reserved),
        clean_up_tokenization_spaces=False,
    )
    vocab = tok.get_vocab_size(with_added_tokens=True)
    metadata = {
        "version": METADATA_VERSION,
        "vocab_size": vocab,
        "bos_id": tok.token_to_id(BOS),
        "eod_id": tok.token_to_id(EOS),
        "eos_id": tok.token_to_id(EOS),
        "pad_id": tok.token_to_id(PAD),
        "bos_token": BOS,
        "eod_token": EOS,
        "pad_token": PAD,
        "reserved_tokens": reserved_tokens(options.reserved),
        "model": "byte-level BPE (NFC, GPT-4-style split, 256-byte alphabet: no unknown tokens)",
        "training": {
            **asdict(options),
            "languages": {
                s.lang: {
                    "corpus_bytes": s.corpus_bytes,
                    "corpus_documents": s.corpus_docs,
                    "share": round(s.share, 6),
                    "rate": round(s.rate, 6),
                    "sample_bytes": s.sample_bytes,
                }
                for s in plan
            },
            "bad_input": report.to_json(),
        },
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    storage.fix_mode(tmp)  # mkdtemp makes it private; a tokenizer dir follows the project's policy
    hf.save_pretrained(str(tmp))
    atomic_write_json(tmp / METADATA_FILE, metadata)
    atomic_write_json(tmp / "fertility.json", fertility)
    atomic_replace_dir(tmp, output)
    return metadata
