"""`llm-train data erase`: remove documents from a clean corpus after prep, and say who trained on them.

    llm-train data erase --corpus CLEAN --ids ID [ID ...]
    llm-train data erase --corpus CLEAN --ids-file ids.txt --urls https://example.org/a --domains example.net
    llm-train data erase --corpus CLEAN --match 'jane\\.doe@example\\.org' --runs runs/ --packed packed/

Selectors combine (a document matching any is erased): --ids/--ids-file, --urls (compared
normalized), --domains (with subdomains), --match (a regular expression searched in the text).
Only the files holding them are rewritten, atomically; stats.json and DATACARD.md are kept true; an
erasure record (the request as sha256 hashes, how many matched, when, the corpus config hash) is
appended to CLEAN/erasures.jsonl. The packs made from the corpus (--packed DIR, the datasets of
--mixture FILE, and those of every run found under --runs, default $LLM_TRAIN_RUNS or ./runs) are
rebuilt for the affected languages, and every run and checkpoint that consumed the documents is
listed. Idempotent; after a kill, run the same command again to finish.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

from llm_train.errors import DataError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llm-train data erase", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--corpus", required=True, help="the clean corpus (written by llm-train prep)")
    p.add_argument("--ids", nargs="+", default=[], metavar="ID", help="document ids")
    p.add_argument("--ids-file", help="a file with one document id per line")
    p.add_argument("--urls", nargs="+", default=[], metavar="URL", help="document urls")
    p.add_argument("--domains", nargs="+", default=[], metavar="DOMAIN", help="domains (and subdomains)")
    p.add_argument("--match", nargs="+", default=[], metavar="REGEX", help="regular expressions in the text")
    p.add_argument(
        "--packed", action="append", default=[], metavar="DIR", help="a pack to rebuild (repeatable)"
    )
    p.add_argument(
        "--mixture", action="append", default=[], metavar="FILE", help="rebuild the packs of a mixture"
    )
    p.add_argument(
        "--runs", action="append", default=[], metavar="DIR", help="where to look for runs (repeatable)"
    )
    p.add_argument("--tokenizer", help="the packs' tokenizer, if it moved since packing")
    p.add_argument("--json", action="store_true", help="print the erasure record(s) and reports as JSON")
    p.add_argument("--no-progress", action="store_true")
    return p


def _ids(args) -> list[str]:
    ids = list(args.ids)
    if args.ids_file:
        path = Path(args.ids_file)
        if not path.is_file():
            raise DataError(f"--ids-file {path}: not found")
        ids += [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return ids


def _mixture_dirs(mixtures: list[str]) -> list[Path]:
    from llm_train.data.mixture import load_mixture

    return sorted(
        {Path(d.prefix).parent for m in mixtures for d in load_mixture(m, check_files=False).datasets}
    )


def main(argv: list[str]) -> int:
    from data_prep.erase.report import render
    from data_prep.erase.request import ErasureRequest
    from data_prep.erase.run import erase

    args = build_parser().parse_args(argv)
    started = time.monotonic()
    request = ErasureRequest(ids=_ids(args), urls=args.urls, domains=args.domains, match=args.match)
    if request.empty:
        raise DataError(
            "llm-train data erase: give what to erase: --ids, --ids-file, --urls, --domains or --match"
        )
    packed = [*args.packed, *_mixture_dirs(args.mixture)]
    # With --json, stdout is the JSON alone: the rebuild's progress lines go to stderr.
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        results = erase(
            args.corpus, request, packed, args.runs, args.tokenizer, progress=not args.no_progress
        )
    if args.json:
        print(
            json.dumps(
                [{"record": r.record, "reports": [x.to_json() for x in r.reports]} for r in results], indent=2
            )
        )
    for result in results:
        rec = result.record
        if result.already:
            print(
                f"erase: request {rec['request_sha256'][:16]} was carried out on {rec['time']} "
                f"({rec['matched']['documents']} document(s)); nothing to do"
            )
            continue
        if args.json:
            continue
        if result.resumed:
            print(f"erase: finished the interrupted request {rec['request_sha256'][:16]}")
        copies = ", ".join(f"{k} {v}" for k, v in rec["matched"]["copies"].items())
        langs = ", ".join(f"{k} {v}" for k, v in rec["matched"]["clean_by_lang"].items())
        print(
            f"erase: {rec['matched']['documents']} document(s) matched ({copies}; clean corpus by language: {langs or '-'})"
        )
        for d, datasets in rec["packed_rebuilt"].items():
            print(f"  rebuilt {', '.join(datasets)} in {d}")
        if not rec["packed_rebuilt"]:
            print("  no pack of this corpus found to rebuild (give --packed DIR or --mixture FILE)")
        print("\n".join(render(result.reports)))
    last = results[-1].record
    print(
        f"erase: done in {time.monotonic() - started:.1f} s; record {last['request_sha256'][:16]} in "
        f"{Path(args.corpus) / 'erasures.jsonl'}",
        file=sys.stderr,
    )
    return 0
