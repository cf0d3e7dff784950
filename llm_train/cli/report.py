"""`llm-train report`: generated reports of a run.

    llm-train report ai-act RUN_DIR --output DIR [--model-name NAME] [--provider NAME] [--info FILE.yaml] [--strict]

ai-act: the public summary of training content (AI Act Art. 53(1)(d)) on the Commission's template,
as summary.md and summary.json: every figure from the data cards of the run's corpora and the
tokens the run consumed (data lineage); what only the provider knows from --info (see
llm_train/aiact/info.py), else "to be completed by the provider"; --strict makes each such field an
error. Update it at least every six months, or when the training data changes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from llm_train.errors import ConfigError, ConfigProblem


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llm-train report", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = p.add_subparsers(dest="kind", required=True)
    ai = sub.add_parser(
        "ai-act",
        help="AI Act training-content summary of a run",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    ai.add_argument("run", metavar="RUN_DIR")
    ai.add_argument("--output", required=True, help="directory for summary.md and summary.json")
    ai.add_argument("--model-name", help="the model's name (else info: model.name)")
    ai.add_argument("--provider", help="the provider's legal name (else info: provider.name)")
    ai.add_argument("--info", help="YAML with what only the provider knows (llm_train/aiact/info.py)")
    ai.add_argument("--strict", action="store_true", help="fail on any field left to be completed")
    return p


def main(argv: list[str]) -> int:
    from llm_train import storage
    from llm_train.aiact.collect import collect
    from llm_train.aiact.info import load_info
    from llm_train.aiact.render import render_markdown
    from llm_train.utils.atomic import atomic_write_json, atomic_write_text

    args = build_parser().parse_args(argv)
    info = load_info(args.info)
    summary = collect(args.run, info, model_name=args.model_name, provider=args.provider)
    if args.strict and summary["missing"]:
        where = args.info or "--info"
        raise ConfigError(
            [
                ConfigProblem(where, key, "missing: the summary needs it (--strict)")
                for key in summary["missing"]
            ]
        )
    out = storage.make_dirs(args.output)
    atomic_write_json(out / "summary.json", summary)
    atomic_write_text(out / "summary.md", render_markdown(summary))
    size = summary["general"]["training_data_size"]["text"]
    todo = (
        f"; {len(summary['missing'])} field(s) to be completed by the provider" if summary["missing"] else ""
    )
    print(
        f"report ai-act: {Path(out) / 'summary.md'} and summary.json ({size['tokens']:,} tokens: {size['range']}; "
        f"{len(summary['general']['languages'])} languages){todo}",
    )
    if summary["missing"]:
        shown = summary["missing"][:8]
        more = (
            f" and {len(summary['missing']) - len(shown)} more"
            if len(summary["missing"]) > len(shown)
            else ""
        )
        print(f"to be completed (--info): {', '.join(shown)}{more}")
    return 0
