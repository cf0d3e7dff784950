"""`llm-train tokenizer`: train a multilingual byte-level BPE on a language-balanced sample.

    llm-train tokenizer --corpus DIR --output DIR --vocab-size 32768 [--alpha 0.3] [--seed 1234]

Writes tokenizer.json, tokenizer_config.json, special_tokens_map.json (loadable offline by
transformers.PreTrainedTokenizerFast.from_pretrained), llm_train_tokenizer.json (special ids,
vocab size, the sampling plan) and fertility.json (tokens/word, bytes/token per language).
"""

from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    from data_prep.tokenizer.train import TrainOptions

    d = TrainOptions()
    p = argparse.ArgumentParser(
        prog="llm-train tokenizer", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument(
        "--corpus", required=True, help="clean corpus: <corpus>/<lang>/{train,validation}/*.jsonl.zst"
    )
    p.add_argument("--output", required=True, help="tokenizer directory to write")
    p.add_argument("--vocab-size", type=int, default=d.vocab_size)
    p.add_argument(
        "--alpha", type=float, default=d.alpha, help="language sampling temperature: share ~ size**alpha"
    )
    p.add_argument(
        "--sample-mb", type=float, default=d.sample_bytes / 1e6, help="text sampled for training, MB"
    )
    p.add_argument(
        "--max-repeat", type=float, default=d.max_repeat, help="most times a small language is repeated"
    )
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--min-frequency", type=int, default=d.min_frequency)
    p.add_argument("--reserved", type=int, default=d.reserved, help="number of reserved special tokens")
    p.add_argument("--langs", help="comma-separated languages (default: all in the corpus)")
    p.add_argument(
        "--fertility-mb", type=float, default=d.fertility_bytes / 1e6, help="validation text per language"
    )
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from data_prep.tokenizer.train import TrainOptions, train

    options = TrainOptions(
        vocab_size=args.vocab_size,
        alpha=args.alpha,
        sample_bytes=int(args.sample_mb * 1e6),
        max_repeat=args.max_repeat,
        seed=args.seed,
        min_frequency=args.min_frequency,
        reserved=args.reserved,
        langs=args.langs.split(",") if args.langs else None,
        fertility_bytes=int(args.fertility_mb * 1e6),
    )
    train(args.corpus, args.output, options)
    return 0
