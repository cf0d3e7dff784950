"""`llm-train data lineage`: from a clean document to the runs, steps and checkpoints that read it.

    llm-train data lineage RUN_DIR [RUN_DIR ...] --id ID [ID ...]    forward, by document id
    llm-train data lineage RUNS_ROOT --ids-file ids.txt               every run found below a root
    llm-train data lineage RUN_DIR --url https://example.org/page     by url (compared normalized)
    llm-train data lineage RUN_DIR --source wikipedia-de              every document of a source
    llm-train data lineage RUN_DIR --step 1200                        reverse: what step 1200 read

For each run and ready checkpoint: whether the document was consumed, at which step first, and how
many of its tokens. Steps undone by a rollback are shown as such (their samples are in no later
checkpoint). Reads megatron-core's cached sample order in RUN_DIR/data_index and the document maps
`llm-train pack` writes beside each .bin/.idx, all memory-mapped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from llm_train.errors import DataError
from llm_train.lineage.trace import DocTrace, RunLineage, find_runs


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llm-train data lineage", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run dirs, or a runs root to search")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--id", nargs="+", dest="ids", metavar="ID", help="clean document id(s)")
    what.add_argument("--ids-file", help="a file with one document id per line")
    what.add_argument("--url", nargs="+", dest="urls", metavar="URL", help="document url(s)")
    what.add_argument("--source", help="every document of this source")
    what.add_argument("--step", type=int, help="list the documents step N read")
    p.add_argument("--limit", type=int, default=20, help="documents listed per run for --source (default 20)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    return p


def _run_dirs(paths: list[str]) -> list[Path]:
    runs: list[Path] = []
    for path in paths:
        found = find_runs(path)
        if not found:
            raise DataError(f"{path}: no run dir there (a run dir holds config.yaml)")
        runs += [r for r in found if r not in runs]
    return runs


def _ids(args) -> list[str]:
    if args.ids_file:
        path = Path(args.ids_file)
        if not path.is_file():
            raise DataError(f"--ids-file {path}: not found")
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return list(args.ids or [])


def trace_json(t: DocTrace) -> dict:
    return {
        "id": t.doc_id,
        "dataset": t.dataset,
        "lang": t.lang,
        "source": t.source,
        "url": t.url,
        "in_train_split": t.in_train_split,
        "consumed": t.consumed,
        "first_step": t.first_step,
        "tokens": t.tokens,
        "readings": [r.__dict__ for r in t.readings],
        "checkpoints": {f"step-{s}": n for s, n in t.checkpoints.items()},
    }


def _forward_text(lineage: RunLineage, traces: list[DocTrace], limit: int | None) -> list[str]:
    ckpts = [c.step for c in lineage.timeline.checkpoints]
    out = []
    traces = sorted(traces, key=lambda t: (not t.consumed, t.first_step or 0, t.doc_id))
    for t in traces[:limit] if limit else traces:
        where = f"{t.dataset}, source {t.source}" + (f", {t.url}" if t.url else "")
        out.append(f"  document {t.doc_id} ({where})")
        if not t.consumed:
            why = (
                ""
                if t.in_train_split
                else " (not in the run's train split: validation/test part of data.split)"
            )
            out.append(f"    not consumed{why}")
            continue
        kept = [r for r in t.readings if r.kept]
        undone = [r for r in t.readings if not r.kept]
        out.append(
            f"    consumed: first at step {t.first_step}, read {len(kept)} time(s), {t.tokens} tokens"
            + (f"; also at undone step(s) {', '.join(str(r.step) for r in undone)}" if undone else "")
        )
        saw = [f"step-{s} ({n} tokens)" for s, n in t.checkpoints.items()]
        clean = [f"step-{s}" for s in ckpts if s not in t.checkpoints]
        out.append(f"    checkpoints that saw it: {', '.join(saw) or 'none'}")
        if clean:
            out.append(f"    checkpoints without it: {', '.join(clean)}")
    return out


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    ids = _ids(args)
    results = []
    lines: list[str] = []
    for run_dir in _run_dirs(args.runs):
        lineage = RunLineage(run_dir)
        lines.append(f"run {lineage.name}")
        lines += [f"  warning: {p}" for p in lineage.problems()]
        lines += [f"  note: {n}" for n in lineage.notes()]
        if args.step is not None:
            docs = lineage.step_documents(args.step)
            window = lineage.timeline.samples_of_step(args.step)
            lines.append(
                f"  step {args.step} read global samples {window[0]}-{window[1] - 1}: {len(docs)} document part(s)"
            )
            lines.append(f"  {'sample':>7}  {'tokens':>6}  {'dataset':<10} {'id':<36} {'source':<24} url")
            for d in docs:
                lines.append(
                    f"  {d.sample:>7}  {d.tokens:>6}  {d.dataset:<10} {d.doc_id:<36} {d.source:<24} {d.url or '-'}"
                )
            results.append(
                {
                    "run": lineage.name,
                    "step": args.step,
                    "documents": [{**d.__dict__, "ref": d.ref.__dict__} for d in docs],
                }
            )
            continue
        refs = lineage.find(ids=ids, urls=args.urls or [], source=args.source)
        traces = lineage.trace(refs)
        asked = ids or args.urls or [f"source {args.source}"]
        found_ids = {t.doc_id for t in traces}
        for missing in (i for i in ids if i not in found_ids):
            lines.append(f"  document {missing}: not in this run's data (not packed, or from another corpus)")
        if args.urls and not traces:
            lines.append("  no document of this run has that url")
        if args.source is not None:
            consumed = [t for t in traces if t.consumed]
            first = min((t.first_step for t in consumed if t.first_step is not None), default=None)
            lines.append(
                f"  source {args.source}: {len(traces)} document(s) in the blend, {len(consumed)} consumed, "
                f"{sum(t.tokens for t in consumed)} tokens" + (f", first at step {first}" if first else "")
            )
        lines += _forward_text(lineage, traces, args.limit if args.source else None)
        results.append({"run": lineage.name, "asked": asked, "documents": [trace_json(t) for t in traces]})
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    else:
        print("\n".join(lines))
    n_docs = sum(len(r["documents"]) for r in results)
    print(
        f"lineage: {n_docs} document record(s) in {len(results)} run(s) in {time.monotonic() - started:.2f} s",
        file=sys.stderr,
    )
    return 0
