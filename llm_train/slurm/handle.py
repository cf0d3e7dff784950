"""A submitted job: id, run dir, state, wait, cancel."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from llm_train.slurm import query
from llm_train.slurm.sbatch import scancel


@dataclass(frozen=True)
class JobHandle:
    job_id: str
    run_dir: Path
    script: Path
    kind: str = "generic"

    def states(self) -> dict[str, query.JobRecord]:
        """Each allocation of the job (array tasks separately)."""
        recs = query.states([self.job_id])
        return {k: v for k, v in recs.items() if k == self.job_id or k.startswith(f"{self.job_id}_")}

    def state(self) -> str:
        """One word; for an array whose tasks ended differently, the distinct states joined by ","."""
        found = self.states()
        if not found:
            return "UNKNOWN"
        return ",".join(sorted({r.state for r in found.values()}))

    def done(self) -> bool:
        found = self.states()
        # An array's parent record ("<id>_[1-3]") stays PENDING until every task started.
        return bool(found) and all(r.terminal for r in found.values())

    def wait(self, timeout: float | None = None, poll: float = 2.0) -> str:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done():
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {self.job_id} still {self.state()} after {timeout:.0f} s")
            time.sleep(poll)
        return self.state()

    def cancel(self) -> None:
        scancel(self.job_id)

    def signal(self, name: str = "USR1") -> None:
        """Send `name` to the batch shell, as --signal=B:... does before the time limit."""
        scancel(self.job_id, signal=name, batch_only=True)
