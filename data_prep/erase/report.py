"""Which runs and checkpoints consumed the documents an erasure removes (llm_train/lineage).

Every run dir under the given roots is checked. A run belongs to the corpus when one of its packed
datasets was made from it (the document map, or pack_stats.json, names the corpus); a run that
belongs but cannot be traced (data index deleted, pack moved) is listed with the reason, never
left out. Computed before the packs are rebuilt, from the maps the runs trained with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from data_prep.erase.repack import pack_source
from llm_train.errors import LLMTrainError
from llm_train.lineage.trace import RunLineage, find_runs


@dataclass
class RunReport:
    run: str
    problem: str | None = None
    documents: int = 0  # erased documents in the run's blend
    consumed: int = 0
    tokens: int = 0
    first_step: int | None = None
    checkpoints: list[dict] = field(default_factory=list)  # [{step, documents, tokens}] that saw any
    clean_checkpoints: list[int] = field(default_factory=list)  # ready checkpoints that saw none
    packed: list[str] = field(default_factory=list)  # packed dirs of the run made from the corpus

    def to_json(self) -> dict:
        return asdict(self)


def _mixture_dirs(run_dir: Path) -> list[Path]:
    import yaml

    from llm_train.data.mixture import load_mixture

    cfg = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}
    mixture = (cfg.get("data") or {}).get("mixture")
    if not mixture:
        return []
    try:
        return sorted({Path(d.prefix).parent for d in load_mixture(mixture, check_files=False).datasets})
    except LLMTrainError:
        return []


def run_report(run_dir: Path, corpus: Path, ids: set[str]) -> RunReport | None:
    """The run's report, or None when none of its data came from `corpus`."""
    corpus_str = str(corpus.resolve())
    packed = [
        d for d in _mixture_dirs(run_dir) if (src := pack_source(d)) and str(src.resolve()) == corpus_str
    ]
    report = RunReport(str(run_dir), packed=[str(d) for d in packed])
    try:
        lineage = RunLineage(run_dir)
    except LLMTrainError as exc:
        if not packed:
            return None
        report.problem = str(exc)
        return report
    mine = [
        d
        for d in lineage.order.datasets
        if d.docmap is not None and d.docmap.meta.get("corpus") == corpus_str
    ]
    if not mine and not packed:
        return None
    untraced = [
        f"{d.name}: {d.problem}"
        for d in lineage.order.datasets
        if d.docmap is None and Path(d.prefix).parent in packed
    ]
    if untraced:
        report.problem = "; ".join(untraced)
    traces = lineage.trace(lineage.find(ids=sorted(ids), corpus=corpus_str))
    consumed = [t for t in traces if t.consumed]
    report.documents, report.consumed = len(traces), len(consumed)
    report.tokens = sum(t.tokens for t in consumed)
    steps = [t.first_step for t in consumed if t.first_step is not None]
    report.first_step = min(steps) if steps else None
    for ckpt in lineage.timeline.checkpoints:
        saw = [t.checkpoints[ckpt.step] for t in traces if ckpt.step in t.checkpoints]
        if saw:
            report.checkpoints.append({"step": ckpt.step, "documents": len(saw), "tokens": sum(saw)})
        else:
            report.clean_checkpoints.append(ckpt.step)
    return report


def runs_report(roots: list[Path], corpus: Path, ids: set[str]) -> list[RunReport]:
    runs = sorted({r for root in roots for r in find_runs(root)})
    return [rep for run in runs if (rep := run_report(run, corpus, ids)) is not None]


def render(reports: list[RunReport]) -> list[str]:
    if not reports:
        return ["no run found that trained on this corpus (searched the --runs roots)"]
    out = []
    for r in reports:
        out.append(f"run {r.run}")
        if r.problem:
            out.append(f"  cannot be fully traced: {r.problem}")
        if r.problem and not r.documents:
            continue
        if not r.consumed:
            out.append(f"  consumed none of the {r.documents} erased document(s) in its data")
            continue
        out.append(
            f"  consumed {r.consumed} of {r.documents} erased document(s) in its data, {r.tokens} tokens, "
            f"first at step {r.first_step}"
        )
        held = ", ".join(
            f"step-{c['step']} ({c['documents']} docs, {c['tokens']} tokens)" for c in r.checkpoints
        )
        out.append(f"  checkpoints that saw them: {held or 'none'}")
        before = r.clean_checkpoints
        if before:
            out.append(
                f"  latest checkpoint without them: step-{before[-1]} (continue from it on the rebuilt data after "
                "removing the run's data_index/, or retrain)"
            )
        else:
            out.append("  no checkpoint is free of them: retrain, or continue knowingly")
    return out
