"""`llm-train eval run|watch|report|tasks|make-tasks`: argument parsing only; the work is elsewhere.

llm-train eval run RUN_DIR|CKPT [--step N | --all] [--tasks FILE...] [--corpus DIR] [--languages de,fr]
llm-train eval watch RUN_DIR [--interval S] [--once] [--slurm] [--retry-failed]
llm-train eval report RUN_DIR... [--output DIR]
llm-train eval make-tasks --corpus DIR --output FILE
llm-train eval tasks check FILE... | convert FORMAT INPUT OUTPUT [--lang L] | formats
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from llm_train.errors import LLMTrainError

log = logging.getLogger("evals")


def _settings_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what to evaluate (default: the run's config)")
    g.add_argument("--suite", help="name under which results are stored (default: 'default')")
    g.add_argument("--settings", type=Path, help="a settings JSON written by `eval watch --slurm`")
    g.add_argument("--tasks", nargs="+", help="task JSONL files, dirs or FORMAT:PATH")
    g.add_argument("--no-generated-tasks", action="store_true", help="without --tasks, evaluate BPB only")
    g.add_argument("--corpus", help="clean corpus dir whose validation split is scored")
    g.add_argument("--languages", help="comma-separated languages (default: all in the corpus)")
    g.add_argument("--tokenizer", help="tokenizer dir (default: data.tokenizer of the run)")
    g.add_argument("--max-docs", type=int, dest="max_docs_per_language")
    g.add_argument("--max-tokens-per-doc", type=int)
    g.add_argument("--max-length", type=int, help="scoring window (default: the model's max_seq_len)")
    g.add_argument("--batch-size", help="int or 'auto'")
    g.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    g.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    g.add_argument("--bos-policy", choices=["eod", "bos"])
    g.add_argument("--no-track", action="store_true", help="do not log to Aim")


def _build_settings(args, cfg, run_dir: Path | None):
    from evals.runner import with_generated_tasks
    from evals.settings import EvalSettings, settings_from_config

    if args.settings:
        raw = json.loads(args.settings.read_text())
        raw["languages"], raw["tasks"] = tuple(raw.get("languages", ())), tuple(raw.get("tasks", ()))
        return EvalSettings(**raw)
    batch = args.batch_size
    if batch is not None and batch != "auto":
        batch = int(batch)
    settings = settings_from_config(
        cfg,
        suite=args.suite,
        tasks=args.tasks,
        corpus=args.corpus,
        tokenizer=args.tokenizer,
        languages=[x for x in args.languages.split(",") if x] if args.languages else None,
        max_docs_per_language=args.max_docs_per_language,
        max_tokens_per_doc=args.max_tokens_per_doc,
        max_length=args.max_length,
        batch_size=batch,
        device=args.device,
        dtype=args.dtype,
        bos_policy=args.bos_policy,
        generate_tasks=False if args.no_generated_tasks else None,
    )
    return with_generated_tasks(settings, run_dir)


def _targets(args) -> tuple[Path | None, list, list[str], list[str]]:
    """(run dir or None, checkpoint refs to evaluate, notes, errors).

    Notes are incomplete checkpoints nobody asked for (a save in progress is normal); errors are
    asked-for checkpoints that cannot be evaluated. Both are reported; only errors fail the command.
    """
    from evals import checkpoints as ck
    from evals.errors import CheckpointError

    path = Path(args.target)
    if not path.exists():
        raise CheckpointError(f"{path}: no such run dir or checkpoint")
    if not ck.is_run_dir(path):
        return None, [ck.ref_for_path(path)], [], []
    scan = ck.scan(path)
    if args.all:
        steps = scan.ready
    elif args.step is not None:
        steps = [args.step]
    else:
        latest = ck.latest_ready(path)
        steps = [latest] if latest is not None else []
    refs, errors = [], []
    for step in steps:
        try:
            refs.append(ck.ref_for_step(path, step))
        except CheckpointError as exc:
            errors.append(str(exc))
    if not steps:
        errors.append(f"{path}: no ready checkpoint yet")
    return path, refs, scan.problems(), errors


def cmd_run(args) -> int:
    from evals.results import append_record, results_path
    from evals.runner import evaluate_checkpoint, summary_lines
    from evals.settings import load_run_config

    run_dir, refs, notes, errors = _targets(args)
    for note in notes:
        print(f"skipped: {note}", file=sys.stderr)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    cfg = load_run_config(run_dir) if run_dir else None
    settings = _build_settings(args, cfg, run_dir)
    if settings.tokenizer is None and refs and (refs[0].path / "tokenizer.json").is_file():
        from dataclasses import replace

        settings = replace(settings, tokenizer=str(refs[0].path))
    failed = bool(errors)
    for ref in refs:
        record = evaluate_checkpoint(ref, settings, cfg)
        if run_dir is not None:
            append_record(results_path(run_dir), record)
            if not args.no_track and record["kind"] == "result":
                from evals.tracking import log_record

                log_record(run_dir, record, cfg)
        if args.output:
            append_record(Path(args.output), record)
        for line in summary_lines(record):
            print(line)
        failed |= record["kind"] != "result"
    return 1 if failed else 0


def cmd_watch(args) -> int:
    from evals.settings import load_run_config
    from evals.watcher import Watcher

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise LLMTrainError(f"{run_dir}: run dir not found")
    cfg = load_run_config(run_dir)
    settings = _build_settings(args, cfg, run_dir)
    submit_options = None
    if args.slurm:
        from llm_train.slurm.build import SubmitOptions

        submit_options = SubmitOptions(
            partition=args.partition,
            time=args.time,
            account=args.account,
            gpus_per_node=args.gpus_per_node,
            sbatch=tuple(args.sbatch or ()),
        )
    watcher = Watcher(
        run_dir,
        settings,
        cfg,
        slurm=args.slurm,
        retry_failed=args.retry_failed,
        track=not args.no_track,
        cluster=args.cluster,
        submit_options=submit_options,
    )
    try:
        return watcher.watch(args.interval, once=args.once, max_passes=args.max_passes)
    except KeyboardInterrupt:
        return 0


def cmd_report(args) -> int:
    from evals.report.markdown import write_report

    output = Path(args.output) if args.output else Path(args.run_dirs[0]) / "evals" / "report"
    report = write_report(args.run_dirs, output, args.suite)
    print(f"report: {report} ({', '.join(p.name for p in sorted(output.glob('*.png')))})")
    return 0


def cmd_make_tasks(args) -> int:
    from evals.corpus import validation_docs
    from evals.tasks.format import write_task_file
    from evals.tasks.generate import continuation_task

    langs = [x for x in (args.languages or "").split(",") if x]
    docs = validation_docs(args.corpus, langs, args.max_docs)
    examples = continuation_task(docs, per_language=args.per_language, choices=args.choices, seed=args.seed)
    if not examples:
        raise LLMTrainError(f"{args.corpus}: too few validation documents to build a task")
    write_task_file(args.output, examples)
    per_lang = {}
    for ex in examples:
        per_lang[ex.lang] = per_lang.get(ex.lang, 0) + 1
    print(
        f"make-tasks: {len(examples)} examples -> {args.output} ({', '.join(f'{k} {v}' for k, v in sorted(per_lang.items()))})"
    )
    return 0


def cmd_tasks(args) -> int:
    from evals.tasks.format import write_task_file
    from evals.tasks.sources import SOURCES, load_source
    from evals.tasks.suite import resolve_task

    if args.action == "formats":
        print("formats: " + ", ".join([*SOURCES, "gsm8k (lm-eval only)"]))
        return 0
    if args.action == "convert":
        fmt, src, out = args.paths
        examples, skipped = load_source(fmt, src, args.lang or "")
        write_task_file(out, examples)
        print(
            f"convert: {len(examples)} examples -> {out}, {sum(skipped.values())} rows skipped {dict(skipped)}"
        )
        return 0
    bad = 0
    for spec in args.paths:
        for tf in resolve_task(spec):
            n_skip = sum(tf.skipped.values())
            bad += n_skip
            print(
                f"{tf.path}: {len(tf.examples)} examples, {n_skip} malformed {dict(tf.skipped)} sha256 {tf.sha256[:12]}"
            )
    return 1 if bad else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-train eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="evaluate checkpoints now")
    p.add_argument("target", help="run dir (latest ready checkpoint) or checkpoint / HF export dir")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--step", type=int)
    which.add_argument("--all", action="store_true", help="every ready checkpoint")
    p.add_argument("--output", help="also append records to this JSONL file")
    _settings_args(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("watch", help="evaluate each checkpoint once as it becomes ready")
    p.add_argument("run_dir")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between scans")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.add_argument("--max-passes", type=int, help=argparse.SUPPRESS)
    p.add_argument(
        "--slurm", action="store_true", help="one Slurm job per checkpoint (a job array for backfills)"
    )
    p.add_argument("--cluster", help="cluster profile for --slurm (default: the run's own)")
    p.add_argument("--partition")
    p.add_argument("--time", help="time limit of each eval job, e.g. 00:30:00")
    p.add_argument("--account")
    p.add_argument("--gpus-per-node", type=int)
    p.add_argument("--sbatch", nargs="*", metavar="--OPTION=VALUE", help="extra sbatch options")
    p.add_argument("--retry-failed", action="store_true")
    _settings_args(p)
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("report", help="Markdown + PNG plots for one or more run dirs")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--output", help="default: RUN_DIR/evals/report (first run dir)")
    p.add_argument("--suite", default="default")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("make-tasks", help="build a continuation task from a corpus' validation split")
    p.add_argument("--corpus", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--languages")
    p.add_argument("--per-language", type=int, default=100)
    p.add_argument("--choices", type=int, default=4)
    p.add_argument("--max-docs", type=int, default=400)
    p.add_argument("--seed", type=int, default=1234)
    p.set_defaults(func=cmd_make_tasks)

    p = sub.add_parser("tasks", help="check task files, convert benchmark files, list formats")
    p.add_argument("action", choices=["check", "convert", "formats"])
    p.add_argument("paths", nargs="*", help="check: FILE...; convert: FORMAT INPUT OUTPUT")
    p.add_argument("--lang")
    p.set_defaults(func=cmd_tasks)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return args.func(args)
    except LLMTrainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
