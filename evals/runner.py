"""Evaluate one checkpoint with one suite: load, BPB per language, tasks, one result record.

Any failure of a checkpoint (missing, partial, corrupt, out of memory) becomes a failure record;
the caller moves on to the next checkpoint.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
import traceback
import uuid
from pathlib import Path

from evals import EVAL_CODE_VERSION
from evals.checkpoints import CheckpointRef
from evals.errors import EvalError
from evals.settings import EvalSettings

log = logging.getLogger(__name__)


def tokens_at(cfg, step: int | None) -> int | None:
    if cfg is None or step is None:
        return None
    return step * cfg.train.global_batch_size * cfg.train.seq_length


def base_record(ref: CheckpointRef, settings: EvalSettings, cfg) -> dict:
    return {
        "id": uuid.uuid4().hex,
        "kind": None,
        "suite": settings.suite,
        "step": ref.step,
        "tokens": tokens_at(cfg, ref.step),
        "checkpoint": str(ref.path),
        "run_dir": str(ref.run_dir) if ref.run_dir else None,
        "time": time.time(),
        "eval_version": EVAL_CODE_VERSION,
        "settings": settings.to_json(),
        "fingerprint": settings.fingerprint(),
    }


def generated_task_file(settings: EvalSettings, cache_dir: Path | None) -> str | None:
    """The continuation task built from the validation corpus, written once per run dir (and language
    selection) so every checkpoint is scored on the same file (same hash)."""
    from evals.corpus import validation_docs
    from evals.tasks.format import write_task_file
    from evals.tasks.generate import continuation_task

    if not settings.corpus:
        return None
    # No run dir (a bare checkpoint): a temp file; the draw is seeded, so its hash is the same anyway.
    name = "continuation" + "".join(f"-{lang}" for lang in sorted(settings.languages)) + ".jsonl"
    target = (cache_dir or Path(tempfile.mkdtemp(prefix="llm-train-eval-"))) / "tasks" / name
    if not target.is_file():
        # Its own document budget: distractors need several documents even when BPB reads only a few.
        limit = max(settings.max_docs_per_language, settings.generated_per_language + 3)
        docs = validation_docs(settings.corpus, list(settings.languages), limit)
        examples = continuation_task(docs, per_language=settings.generated_per_language)
        if not examples:
            log.warning("no continuation task: too few validation documents per language")
            return None
        write_task_file(target, examples)
        log.info("generated %d continuation examples -> %s", len(examples), target)
    return str(target)


def evaluate_checkpoint(ref: CheckpointRef, settings: EvalSettings, cfg=None) -> dict:
    """A result record, or a failure record with the error; never raises for a bad checkpoint."""
    record = base_record(ref, settings, cfg)
    t0 = time.perf_counter()
    try:
        record.update(_evaluate(ref, settings), kind="result")
    except Exception as exc:  # a bad checkpoint must not stop the others
        log.error("%s: evaluation failed: %s: %s", ref.path, type(exc).__name__, exc)
        record.update(
            kind="failure", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=5)
        )
    record["duration_s"] = round(time.perf_counter() - t0, 3)
    return record


def _evaluate(ref: CheckpointRef, settings: EvalSettings) -> dict:
    from data_prep.readers import ReadResult
    from evals.bpb import bpb_per_language
    from evals.corpus import validation_docs
    from evals.loading import load_model
    from evals.scorer import Scorer
    from evals.tasks.mc import evaluate_mc
    from evals.tasks.suite import resolve_tasks
    from evals.tokenizer import check_vocab, load_eval_tokenizer

    if not settings.tokenizer:
        raise EvalError("no tokenizer: set data.tokenizer in the run config or pass --tokenizer")
    if not settings.corpus and not settings.tasks:
        raise EvalError(
            "nothing to evaluate: no validation corpus (data.valid_corpus / --corpus) and no --tasks"
        )
    tokenizer = load_eval_tokenizer(settings.tokenizer, settings.bos_policy)
    task_files = resolve_tasks(list(settings.tasks))
    model, model_info = load_model(ref.path, settings.device, settings.dtype)
    max_length = min(settings.max_length or model_info["max_seq_len"], model_info["max_seq_len"])
    scorer = Scorer(
        model,
        tokenizer.prefix_id,
        max_length,
        settings.batch_size,
        vocab_size=check_vocab(tokenizer, model_info["vocab_size"]),
    )
    out = {
        "model": {**model_info, "max_length": max_length, "batch_size": scorer.batch_size},
        "tokenizer": tokenizer.describe(),
        "tasks": [tf.describe() for tf in task_files],
    }
    if settings.corpus:
        report = ReadResult()
        docs = validation_docs(
            settings.corpus, list(settings.languages), settings.max_docs_per_language, report
        )
        out["bpb"] = bpb_per_language(scorer, tokenizer, docs, settings.max_tokens_per_doc)
        out["corpus"] = {"path": settings.corpus, **report.to_json()}
    examples = [ex for tf in task_files for ex in tf.examples]
    if examples:
        out["task_results"] = evaluate_mc(scorer, tokenizer, examples)
    return out


def summary_lines(record: dict) -> list[str]:
    """Human summary: one line for BPB, one per task."""
    where = f"step {record['step']}" if record.get("step") is not None else record["checkpoint"]
    if record["kind"] != "result":
        return [f"{where}: FAILED {record.get('error')}"]
    lines = []
    bpb = record.get("bpb")
    if bpb:
        langs = " ".join(f"{lang} {v['bpb']:.4f}" for lang, v in bpb["languages"].items())
        lines.append(f"{where}: bpb macro {_fmt(bpb['macro_bpb'])} | {langs}")
    for task, langs in (record.get("task_results") or {}).items():
        parts = " ".join(
            f"{lang} {v['acc']:.3f}/{v['acc_norm']:.3f} (n={v['n']})" for lang, v in langs.items()
        )
        lines.append(f"{where}: {task} acc/acc_norm | {parts}")
    return lines or [f"{where}: nothing evaluated"]


def _fmt(x: float) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def with_generated_tasks(settings: EvalSettings, run_dir: Path | None) -> EvalSettings:
    """No task given: use (and on first use build) the continuation task of the validation corpus."""
    from dataclasses import replace

    if settings.tasks or not settings.generate_tasks:
        return settings
    path = generated_task_file(settings, Path(run_dir) / "evals" if run_dir else None)
    return replace(settings, tasks=(path,)) if path else settings
