"""What a report draws, read from a run dir: training and validation loss from metrics.jsonl and
evaluations from evals/results.jsonl, each against tokens seen."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from evals.results import read_records, results_path


@dataclass
class RunSeries:
    name: str
    run_dir: Path
    train_loss: list[tuple[int, float]] = field(default_factory=list)  # (tokens, loss)
    valid_loss: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # lang|"all" -> points
    evals: list[dict] = field(default_factory=list)  # result records, by step

    def bpb(self) -> dict[str, list[tuple[int, float]]]:
        out: dict[str, list[tuple[int, float]]] = {}
        for r in self.evals:
            bpb = r.get("bpb") or {}
            for lang, v in (bpb.get("languages") or {}).items():
                out.setdefault(lang, []).append((r["tokens"], v["bpb"]))
            if "macro_bpb" in bpb:
                out.setdefault("macro", []).append((r["tokens"], bpb["macro_bpb"]))
        return out

    def task_acc(self, metric: str = "acc") -> dict[str, list[tuple[int, float, float]]]:
        """task -> (tokens, mean over languages, mean chance)."""
        out: dict[str, list[tuple[int, float, float]]] = {}
        for r in self.evals:
            for task, langs in (r.get("task_results") or {}).items():
                values = list(langs.values())
                acc = sum(v[metric] for v in values) / len(values)
                chance = sum(v.get("chance", 0.0) for v in values) / len(values)
                out.setdefault(task, []).append((r["tokens"], acc, chance))
        return out


def _batch_shape(run_dir: Path) -> tuple[int, int] | None:
    """(global batch size, sequence length) from the run's config, None without a readable config."""
    from evals.settings import load_run_config

    try:
        cfg = load_run_config(run_dir)
    except Exception:
        return None
    return (cfg.train.global_batch_size, cfg.train.seq_length) if cfg else None


def load_run(run_dir: str | Path, suite: str = "default") -> RunSeries:
    run_dir = Path(run_dir)
    series = RunSeries(f"{run_dir.parent.name}/{run_dir.name}", run_dir)
    shape = _batch_shape(run_dir)
    per_step, seq = (shape[0] * shape[1], shape[1]) if shape else (None, None)

    def tokens(step: int, record: dict) -> int:
        consumed = record.get("metrics", {}).get("consumed_samples")
        if isinstance(consumed, (int, float)) and seq:
            return int(consumed) * seq
        return step * per_step if per_step else step

    metrics = run_dir / "metrics.jsonl"
    train: dict[int, tuple[int, float]] = {}
    valid: dict[str, dict[int, tuple[int, float]]] = {}
    if metrics.is_file():
        for line in metrics.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a torn last line of a running trainer
            loss = (rec.get("metrics") or {}).get("loss")
            if not isinstance(loss, (int, float)) or not isinstance(rec.get("step"), int):
                continue
            ctx = rec.get("context") or {}
            point = (tokens(rec["step"], rec), float(loss))
            if ctx.get("subset") == "train":
                train[rec["step"]] = point  # resumed runs append again: the last one wins
            elif ctx.get("subset") == "valid":
                valid.setdefault(ctx.get("lang", "all"), {})[rec["step"]] = point
    series.train_loss = [train[s] for s in sorted(train)]
    series.valid_loss = {lang: [pts[s] for s in sorted(pts)] for lang, pts in sorted(valid.items())}
    latest: dict[int, dict] = {}
    for r in read_records(results_path(run_dir)):
        if r.get("kind") == "result" and r.get("suite") == suite and isinstance(r.get("step"), int):
            latest[r["step"]] = r
    for step in sorted(latest):
        r = dict(latest[step])
        if r.get("tokens") is None:
            r["tokens"] = step * per_step if per_step else step
        series.evals.append(r)
    return series
