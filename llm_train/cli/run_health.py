"""What `llm-train jobs RUN_DIR` shows about the health of a run's nodes: slow hosts and bad nodes.

Slow hosts come from the trainer's `straggler` events in metrics.jsonl; bad nodes from
RUN_DIR/bad_nodes.txt, where the burn-in preflight records each node it excluded and why.
"""

from __future__ import annotations

from rich.table import Table

from llm_train.run_dir import RunDir


def slow_hosts(run: RunDir) -> Table | None:
    by_host: dict[str, dict] = {}
    for e in run.events("straggler"):
        row = by_host.setdefault(e["host"], {"ranks": set(), "times": 0, "worst": 0.0, "last": 0})
        row["ranks"].add(e["rank"])
        row["times"] += 1
        row["worst"] = max(row["worst"], e["ratio"])
        row["last"] = max(row["last"], e["step"])
    if not by_host:
        return None
    table = Table(title="slow hosts (forward time vs the median rank)")
    for col in ("host", "ranks", "times flagged", "worst", "last step"):
        table.add_column(col)
    for host, row in sorted(by_host.items(), key=lambda kv: -kv[1]["worst"]):
        ranks = ",".join(str(r) for r in sorted(row["ranks"]))
        table.add_row(host, ranks, str(row["times"]), f"{row['worst']:.2f}x", str(row["last"]))
    return table


def read_bad_nodes(run: RunDir) -> list[dict]:
    """Lines `node<TAB>job<TAB>time<TAB>reason` (# comments allowed)."""
    if not run.bad_nodes_file.is_file():
        return []
    out = []
    for line in run.bad_nodes_file.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        node, job, when, reason = ([*line.split("\t", 3), "", "", ""])[:4]
        out.append({"node": node, "job": job, "time": when, "reason": reason})
    return out


def bad_nodes(run: RunDir) -> Table | None:
    rows = read_bad_nodes(run)
    if not rows:
        return None
    table = Table(title=f"excluded nodes ({run.bad_nodes_file})")
    for col in ("node", "job", "time", "why"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["node"], row["job"], row["time"], row["reason"])
    return table


def health_tables(run: RunDir) -> list[Table]:
    return [t for t in (bad_nodes(run), slow_hosts(run)) if t is not None]
