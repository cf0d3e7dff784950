"""Trace documents through a run: which steps read them, how many tokens, which checkpoints hold them.

    RunLineage(run_dir).trace(refs)      documents -> steps, tokens, checkpoints (forward)
    RunLineage(run_dir).step_documents(n) step -> documents with source and url (reverse)
    RunLineage(run_dir).consumption()     tokens every document gave the run (AI Act summary)

Everything is read from memory maps (run_index.py) and metrics.jsonl (timeline.py); a forward
lookup touches the samples around the document only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from llm_train.lineage.run_index import DatasetOrder, LineageError, RunOrder, load_run_order
from llm_train.lineage.timeline import Timeline, build_timeline
from llm_train.run_dir import RunDir


@dataclass(frozen=True)
class DocRef:
    """A document of a dataset in a run's blend."""

    dataset: int  # position in the blend
    index: int  # document index in the .bin/.idx


@dataclass
class Reading:
    sample: int  # global sample of the run
    step: int
    kept: bool  # False: a step undone by a rollback or lost in a restart
    tokens: int


@dataclass
class DocTrace:
    ref: DocRef
    doc_id: str
    dataset: str
    lang: str | None
    source: str
    url: str | None
    in_train_split: bool
    readings: list[Reading] = field(default_factory=list)
    checkpoints: dict[int, int] = field(default_factory=dict)  # step -> tokens that checkpoint has seen

    @property
    def consumed(self) -> bool:
        return bool(self.readings)

    @property
    def first_step(self) -> int | None:
        kept = [r.step for r in self.readings if r.kept]
        return min(kept) if kept else min((r.step for r in self.readings), default=None)

    @property
    def tokens(self) -> int:
        return sum(r.tokens for r in self.readings if r.kept)


@dataclass
class StepDoc:
    sample: int
    ref: DocRef
    doc_id: str
    dataset: str
    source: str
    url: str | None
    tokens: int


@dataclass
class Consumption:
    """Per dataset of the blend: tokens each document gave the kept trajectory, and its first step."""

    order: RunOrder
    tokens: dict[int, np.ndarray]
    first_step: dict[int, np.ndarray]  # -1: never read


def _load_config(run: RunDir) -> dict:
    if not run.config_file.is_file():
        raise LineageError(f"{run.path}: not a run dir (no {run.config_file.name})")
    return yaml.safe_load(run.config_file.read_text(encoding="utf-8")) or {}


class RunLineage:
    def __init__(self, run_dir: str | Path):
        self.run = RunDir(run_dir)
        self.config = _load_config(self.run)
        data = self.config.get("data") or {}
        self.cache = Path(data.get("index_cache") or self.run.data_index)
        self.timeline: Timeline = build_timeline(self.run)
        sizes = [c.data_samples for c in self.timeline.checkpoints if c.data_samples]
        self.order = load_run_order(self.cache, sizes[-1] if sizes else None)
        for ds in self.order.datasets:
            ds.attach_docmap()

    @property
    def name(self) -> str:
        return str(self.run.path)

    def problems(self) -> list[str]:
        return [f"{d.name}: {d.problem}" for d in self.order.datasets if d.problem]

    def notes(self) -> list[str]:
        return [f"{d.name}: {d.note}" for d in self.order.datasets if d.note]

    def _usable(self, k: int) -> DatasetOrder:
        ds = self.order.datasets[k]
        if ds.docmap is None:
            raise LineageError(f"{self.name}: dataset {ds.name}: {ds.problem}")
        return ds

    # -- finding documents -------------------------------------------------------------------
    def find(
        self, ids: list[str] = (), urls: list[str] = (), source: str | None = None, corpus: str | None = None
    ) -> list[DocRef]:
        """The documents of the blend with these ids / urls / this source (optionally only from
        datasets packed from `corpus`)."""
        refs: list[DocRef] = []
        for ds in self.order.datasets:
            dm = ds.docmap
            if dm is None or (corpus and dm.meta.get("corpus") != corpus):
                continue
            found: set[int] = set()
            for doc_id in ids:
                found.update(dm.find_id(doc_id))
            for url in urls:
                found.update(dm.find_url(url))
            if source is not None:
                found.update(int(i) for i in dm.docs_of_source(source))
            refs += [DocRef(ds.position, i) for i in sorted(found)]
        return refs

    def describe(self, ref: DocRef) -> DocTrace:
        ds = self._usable(ref.dataset)
        dm = ds.docmap
        return DocTrace(
            ref, dm.ids[ref.index], ds.name, dm.lang, dm.source_at(ref.index), dm.url_at(ref.index), False
        )

    # -- forward -----------------------------------------------------------------------------
    def _horizon(self) -> int:
        ends = [s.end for s in self.timeline.kept + self.timeline.discarded]
        ends += [c.consumed for c in self.timeline.checkpoints]
        return max(ends, default=0)

    def trace(self, refs: list[DocRef]) -> list[DocTrace]:
        out = {ref: self.describe(ref) for ref in refs}
        horizon, size = self._horizon(), self.order.size
        by_dataset: dict[int, list[int]] = {}
        for ref in refs:
            by_dataset.setdefault(ref.dataset, []).append(ref.index)
        for k, indices in by_dataset.items():
            ds = self._usable(k)
            doc_index = np.asarray(ds.document_index)
            positions = np.flatnonzero(np.isin(doc_index, indices))
            for ref_index in set(doc_index[positions].tolist()):
                out[DocRef(k, ref_index)].in_train_split = True
            rows = ds.rows_with(positions)
            if not len(rows):
                continue
            owner, pos, tokens = ds.pairs(rows)
            wanted = np.isin(pos, positions)
            blend = self.order.blend_positions(k)
            unshuffle = ds.unshuffle
            for row, p, t in zip(rows[owner[wanted]], pos[wanted], tokens[wanted], strict=True):
                j = int(unshuffle[row])
                i = int(blend[j]) if 0 <= j < len(blend) else -1
                if i < 0:
                    continue  # built by megatron-core as surplus, never asked for by the blend
                trace = out[DocRef(k, int(doc_index[p]))]
                for x in range(i, horizon, size):
                    for step, kept in self.timeline.steps_of(x):
                        trace.readings.append(Reading(x, step, kept, int(t)))
        for trace in out.values():
            trace.readings.sort(key=lambda r: (r.step, r.sample))
            for ckpt in self.timeline.checkpoints:
                seen = sum(r.tokens for r in trace.readings if r.kept and ckpt.saw(r.sample))
                if seen:
                    trace.checkpoints[ckpt.step] = seen
        return list(out.values())

    # -- reverse -----------------------------------------------------------------------------
    def step_documents(self, step: int) -> list[StepDoc]:
        window = self.timeline.samples_of_step(step)
        if window is None:
            raise LineageError(
                f"{self.name}: step {step} is not on the run's trajectory (steps 1-{self.timeline.last_step} "
                "are known from metrics.jsonl and the checkpoints)"
            )
        out = []
        size = self.order.size
        di, dsi = self.order.dataset_index, self.order.dataset_sample_index
        for x in range(*window):
            i = x % size
            k, j = int(di[i]), int(dsi[i])
            ds = self._usable(k)
            row = int(ds.shuffle_index[j])
            _, pos, tokens = ds.pairs(np.array([row]))
            for p, t in zip(pos.tolist(), tokens.tolist(), strict=True):
                index = int(ds.document_index[p])
                dm = ds.docmap
                out.append(
                    StepDoc(
                        x, DocRef(k, index), dm.ids[index], ds.name, dm.source_at(index), dm.url_at(index), t
                    )
                )
        return out

    # -- everything --------------------------------------------------------------------------
    def consumption(self, until: int | None = None) -> Consumption:
        """Tokens per document over the kept trajectory (up to global sample `until`), skipping the
        windows a rollback skipped."""
        kept = self.timeline.kept
        end = min(self.timeline.consumed, until) if until is not None else self.timeline.consumed
        x = np.arange(end, dtype=np.int64)
        for a, b in self.timeline.skipped:
            x = x[(x < a) | (x >= b)]
        starts = np.array([s.start for s in kept], dtype=np.int64)
        seg = np.searchsorted(starts, x, "right") - 1
        firsts = np.array([s.first_step for s in kept], dtype=np.int64)
        batches = np.array([max(s.batch, 1) for s in kept], dtype=np.int64)
        steps = firsts[seg] + (x - starts[seg]) // batches[seg] if len(kept) else np.zeros(0, dtype=np.int64)
        i = x % self.order.size
        k_of = np.asarray(self.order.dataset_index)[i]
        j_of = np.asarray(self.order.dataset_sample_index)[i]
        tokens, first = {}, {}
        for k, ds in enumerate(self.order.datasets):
            if ds.docmap is None:
                continue
            mask = k_of == k
            rows = np.asarray(ds.shuffle_index)[j_of[mask]].astype(np.int64)
            owner, pos, tok = ds.pairs(rows)
            docs = np.asarray(ds.document_index)[pos]
            n = ds.docmap.documents
            tokens[k] = np.bincount(docs, weights=tok, minlength=n)
            f = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(f, docs, steps[mask][owner])
            f[f == np.iinfo(np.int64).max] = -1
            first[k] = f
        return Consumption(self.order, tokens, first)


def find_runs(root: str | Path) -> list[Path]:
    """Run dirs under `root` (itself, `<experiment>/<run>` or `<run>` below it)."""
    root = Path(root)
    if RunDir(root).config_file.is_file():
        return [root]
    if not root.is_dir():
        return []
    found = {p.parent for p in root.glob("*/config.yaml")} | {p.parent for p in root.glob("*/*/config.yaml")}
    return sorted(found)
