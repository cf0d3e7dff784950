"""`llm-train pack`: tokenize + pack a clean corpus, resolve a mixture, or verify packed data.

llm-train pack --corpus DIR --tokenizer DIR --output DIR [--workers N] [--group-by source]
llm-train pack --corpus DIR --tokenizer DIR --output DIR --mixture SPEC.yaml [--budget-tokens N]
llm-train pack --output DIR --mixture SPEC.yaml        (resolve against an existing pack)
llm-train pack --verify DIR
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

from llm_train.errors import DataError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llm-train pack", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--corpus", help="clean corpus: <corpus>/<lang>/<split>/*.jsonl.zst")
    p.add_argument("--tokenizer", help="tokenizer dir (tokenizer.json + llm_train_tokenizer.json)")
    p.add_argument("--output", help="where <lang>_text_document.bin/.idx and pack_stats.json go")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 1)), help="worker processes")
    p.add_argument("--threads-per-worker", type=int, default=1)
    p.add_argument(
        "--group-by",
        choices=("lang", "source"),
        default="lang",
        help="one dataset per language or per (language, source)",
    )
    p.add_argument("--split", default="train", help="corpus split to pack (default: train)")
    p.add_argument("--langs", help="comma-separated languages to pack (default: all)")
    p.add_argument(
        "--dtype", choices=("uint16", "int32"), help="token dtype (default: uint16 when the vocabulary fits)"
    )
    p.add_argument("--batch-mb", type=float, default=1.0, help="text per tokenization batch, MB")
    p.add_argument(
        "--hf-encode", action="store_true", help="use HF encode_batch instead of the piece-cache encoder"
    )
    p.add_argument(
        "--mixture", help="mixture spec (configs/data/mixtures/*.yaml): write <output>/mixture.yaml"
    )
    p.add_argument(
        "--budget-tokens", type=float, help="training token budget for the mixture (overrides the spec)"
    )
    p.add_argument(
        "--train-split",
        default=None,
        help="the data.split training will use, checked against each dataset's documents "
        "(default: the trainer's default, 98,2,0)",
    )
    p.add_argument("--verify", metavar="DIR", help="re-read a packed dir through megatron-core and check it")
    p.add_argument("--sample-docs", type=int, default=5, help="documents decoded per dataset by --verify")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.verify:
        return _verify(args)
    if not args.output:
        raise DataError("llm-train pack: --output is required (or --verify DIR)")
    if args.corpus:
        if not args.tokenizer:
            raise DataError("llm-train pack: --tokenizer is required with --corpus")
        from data_prep.pack.packer import PackOptions, pack

        options = PackOptions(
            workers=args.workers,
            threads_per_worker=args.threads_per_worker,
            group_by=args.group_by,
            split=args.split,
            langs=args.langs.split(",") if args.langs else None,
            batch_bytes=int(args.batch_mb * 1e6),
            fast=not args.hf_encode,
            dtype=args.dtype,
        )
        stats = pack(args.corpus, args.tokenizer, args.output, options)
        _warn_empty_splits({name: d["documents"] for name, d in stats["datasets"].items()}, args.train_split)
    elif not args.mixture:
        raise DataError("llm-train pack: give --corpus (to pack), --mixture (to resolve) or --verify DIR")
    if args.mixture:
        from data_prep.mixture import resolve_to_file

        budget = int(args.budget_tokens) if args.budget_tokens is not None else None
        path, mixture = resolve_to_file(
            args.mixture, args.output, budget_tokens=budget, tokenizer=args.tokenizer
        )
        print(mixture.render_table())
        print(f"mixture: {len(mixture.datasets)} datasets -> {path}")
    return 0


def _verify(args) -> int:
    from data_prep.pack.verify import verify

    result = verify(args.verify, args.tokenizer, sample_docs=args.sample_docs)
    for name, ds in result["datasets"].items():
        status = "ok" if ds["ok"] else "FAIL: " + "; ".join(ds["errors"])
        print(f"{name:<20} {ds['documents']:>10} docs {ds['tokens']:>13} tokens  {status}")
        for sample in ds["samples"][:1]:
            print(f"    #{sample['index']}: {json.dumps(sample['text'][:100], ensure_ascii=False)}")
    _warn_empty_splits({name: d["documents"] for name, d in result["datasets"].items()}, args.train_split)
    if result["ok"]:
        print(f"verify: {len(result['datasets'])} datasets ok in {args.verify}")
        return 0
    print(f"verify: {len(result['problems'])} problems in {args.verify}", file=sys.stderr)
    return 1


def _warn_empty_splits(documents: dict[str, int], split: str | None) -> None:
    """The trainer's data.split rule, said before a job is queued rather than when it starts."""
    from llm_train.config.data import DataConfig
    from llm_train.data.splits import empty_split_message, empty_split_problems

    split = split or DataConfig.model_fields["split"].default
    if not re.fullmatch(r"\d+(\.\d+)?,\d+(\.\d+)?,\d+(\.\d+)?", split):
        raise DataError(f"llm-train pack: --train-split {split!r}: expected three parts like 98,2,0")
    empty = empty_split_problems(documents, split)
    if empty:
        print(
            f"warning: `llm-train train` will refuse this pack: {empty_split_message(empty, split)}",
            file=sys.stderr,
        )
