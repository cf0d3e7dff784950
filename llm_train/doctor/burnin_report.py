"""The burn-in's table: one row per node, its figures, pass or fail and why."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from llm_train.doctor.burnin import Decision, NodeResult

COLUMNS = (
    ("gemm_tflops", "GEMM TFLOP/s"),
    ("memory_gbps", "memory GB/s"),
    ("allreduce_busbw_gbps", "all-reduce GB/s"),
)


def render_burn_in(results: list[NodeResult], decision: Decision | None, as_json: bool = False) -> None:
    if as_json:
        doc = {
            "nodes": [asdict(r) | {"ok": r.ok} for r in results],
            "decision": asdict(decision) if decision else None,
        }
        json.dump(doc, sys.stdout, indent=2)
        print()
        return
    table = Table(title="burn-in", title_justify="left")
    for col in ("node", *(label for _, label in COLUMNS), "result", "why"):
        table.add_column(col)
    for r in sorted(results, key=lambda r: r.node):
        figures = [f"{r.figures[key]:g}" if key in r.figures else "-" for key, _ in COLUMNS]
        verdict = "[green]pass[/]" if r.ok else "[red]fail[/]"
        table.add_row(r.node, *figures, verdict, "; ".join(r.reasons))
    console = Console(width=160)
    console.print(table)
    bad = [r.node for r in results if not r.ok]
    line = f"burn-in: {len(results) - len(bad)}/{len(results)} nodes pass"
    if bad:
        line += f"; failed: {', '.join(bad)}"
    if decision is not None and decision.action != "train":
        line += f"; job: {decision.action} (exclude {','.join(decision.exclude)}, {decision.nodes} node(s))"
    console.print(line)
