"""Which optimizer step consumed which global samples, and which samples each checkpoint has seen.

Step k reads global samples [consumed_before_k, consumed_after_k) (llm_train/data/loader.py). The
trainer logs `consumed_samples` with its train metrics and its start/resume/rollback events in
metrics.jsonl, and saves it in every checkpoint's trainer_state.json; between two logged points the
batch is constant. From these:

- the kept trajectory: the steps whose updates live on (what the newest checkpoints contain);
- discarded segments: steps undone by a rollback (the spike policy reloads the last checkpoint and
  skips the window that led to the bad steps) or lost when a run restarted from an earlier
  checkpoint; their samples were consumed, but no later checkpoint holds them;
- for each ready checkpoint, its consumed position and the skipped windows before it: a checkpoint
  has seen sample x when x < consumed and x is in no skipped window.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field

from llm_train.run_dir import RunDir

ANCHOR_EVENTS = ("start", "resume", "rollback", "layout_change")


@dataclass
class Segment:
    first_step: int  # steps first_step..last_step read samples [start, end)
    last_step: int
    start: int
    batch: int
    kept: bool = True

    @property
    def end(self) -> int:
        return self.start + (self.last_step - self.first_step + 1) * self.batch

    def step_of(self, x: int) -> int | None:
        if self.start <= x < self.end and self.batch > 0:
            return self.first_step + (x - self.start) // self.batch
        return None

    def cut(self, step: int) -> tuple[Segment | None, Segment | None]:
        """(the part up to and including `step`, the part after it)."""
        if self.last_step <= step:
            return self, None
        if self.first_step > step:
            return None, self
        head = Segment(self.first_step, step, self.start, self.batch)
        tail = Segment(step + 1, self.last_step, head.end, self.batch, kept=False)
        return head, tail


@dataclass
class CheckpointView:
    step: int
    consumed: int
    skipped: list[tuple[int, int]] = field(default_factory=list)
    data_samples: int | None = None

    def saw(self, x: int) -> bool:
        return x < self.consumed and not any(a <= x < b for a, b in self.skipped)


@dataclass
class Timeline:
    kept: list[Segment]
    discarded: list[Segment]
    skipped: list[tuple[int, int]]
    checkpoints: list[CheckpointView]

    @property
    def consumed(self) -> int:
        """Samples read by the kept trajectory's last known step."""
        return self.kept[-1].end if self.kept else 0

    @property
    def last_step(self) -> int:
        return self.kept[-1].last_step if self.kept else 0

    def steps_of(self, x: int) -> list[tuple[int, bool]]:
        """(step, kept) of every step that read global sample x: the kept one first."""
        found = [(s, True) for seg in self.kept if (s := seg.step_of(x)) is not None]
        seen = {s for s, _ in found}
        found += [(s, False) for seg in self.discarded if (s := seg.step_of(x)) is not None and s not in seen]
        return found

    def samples_of_step(self, step: int) -> tuple[int, int] | None:
        """The global samples [a, b) step `step` of the kept trajectory read."""
        for seg in self.kept:
            if seg.first_step <= step <= seg.last_step:
                a = seg.start + (step - seg.first_step) * seg.batch
                return a, a + seg.batch
        return None


def _consumed_at(path: list[Segment], step: int, anchor: tuple[int, int]) -> int | None:
    if step == anchor[0]:
        return anchor[1]
    for seg in path:
        if seg.first_step <= step <= seg.last_step:
            return seg.start + (step - seg.first_step + 1) * seg.batch
        if step == seg.first_step - 1:
            return seg.start
    return None


def _checkpoint_state(run: RunDir, step: int) -> dict:
    try:
        return json.loads((run.step_dir(step) / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def build_timeline(run: RunDir, records: list[dict] | None = None) -> Timeline:
    records = list(_records(run)) if records is None else records
    path: list[Segment] = []
    discarded: list[Segment] = []
    skipped: list[tuple[int, int]] = []
    anchor = (0, 0)

    def truncate(step: int) -> None:
        kept = []
        for seg in path:
            head, tail = seg.cut(step)
            if head is not None:
                kept.append(head)
            if tail is not None:
                tail.kept = False
                discarded.append(tail)
        path[:] = kept

    for rec in records:
        step = int(rec.get("step", 0))
        if rec.get("event") in ANCHOR_EVENTS and "consumed_samples" in rec:
            consumed = int(rec["consumed_samples"])
            if rec["event"] == "rollback":
                before = _consumed_at(path, step, anchor)
                if before is not None and consumed > before:
                    skipped.append((before, consumed))
            truncate(step)
            anchor = (step, consumed)
            continue
        consumed = (rec.get("metrics") or {}).get("consumed_samples")
        if consumed is None or rec.get("context", {}).get("subset", "train") != "train" or step <= anchor[0]:
            continue
        consumed = int(consumed)
        path.append(Segment(anchor[0] + 1, step, anchor[1], (consumed - anchor[1]) // (step - anchor[0])))
        anchor = (step, consumed)

    checkpoints = []
    for step in run.ready_steps():
        state = _checkpoint_state(run, step)
        consumed = (state.get("data") or {}).get("consumed_samples")
        written = (state.get("trainer") or {}).get("written_with") or {}
        if consumed is None:
            consumed = _consumed_at(path, step, anchor)
        if consumed is None:
            continue
        if step > anchor[0] and consumed > anchor[1]:
            # Steps after the last logged record: the checkpoint says where they ended.
            path.append(Segment(anchor[0] + 1, step, anchor[1], (consumed - anchor[1]) // (step - anchor[0])))
            anchor = (step, consumed)
        checkpoints.append(
            CheckpointView(
                step, int(consumed), [w for w in skipped if w[1] <= consumed], written.get("data_samples")
            )
        )
    return Timeline(path, discarded, skipped, checkpoints)


def _records(run: RunDir):
    """Metric records and events of metrics.jsonl in the order they were written (rank 0 writes
    both; on a tie a metric record goes first, as a step's metrics precede its rollback)."""
    return heapq.merge(run.metrics(), run.events(), key=lambda r: r.get("time", 0))
