"""Submit data_prep's job-array scripts through this layer.

`data_prep.pipeline.slurm_executor` renders its own array script (a pure, snapshot-tested
function) and calls `submit(script_path)`, expecting it to block until the array finished. An
`ArraySubmitter` is that callable: sbatch (with the profile's account/partition/qos as command-line
options, which override the script's own #SBATCH lines), log the job in `<prep>/.prep/slurm/
events.jsonl`, wait. Tasks that failed or were killed stay "not done" in the prep workdir, so
the executor reports them, and the next `llm-train prep` submits only those array indices.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llm_train.config.cluster import ClusterConfig
from llm_train.slurm import events
from llm_train.slurm.handle import JobHandle
from llm_train.slurm.sbatch import sbatch

log = logging.getLogger(__name__)


@dataclass
class ArraySubmitter:
    sbatch_args: Sequence[str] = ()
    timeout: float | None = None
    poll: float = 2.0
    handles: list[JobHandle] = field(default_factory=list)

    @classmethod
    def for_cluster(cls, cluster: ClusterConfig, account: str | None = None, **kw) -> ArraySubmitter:
        import os

        s = cluster.slurm
        account = account or s.account or (os.environ.get(s.account_env) if s.account_env else None)
        args = [
            f"--{k}={v}"
            for k, v in (("account", account), ("partition", s.default_partition), ("qos", s.qos))
            if v
        ]
        return cls(sbatch_args=tuple(args), **kw)

    def __call__(self, script: Path) -> None:
        script = Path(script)
        # The prep's state dir (<output>/.prep) plays the run dir: events land in its slurm/.
        state_dir = script.parent.parent
        job_id = sbatch(script, self.sbatch_args, cwd=script.parent)
        handle = JobHandle(job_id, state_dir, script, "prep-array")
        self.handles.append(handle)
        events.record(
            state_dir,
            "submitted",
            kind="prep-array",
            job_id=job_id,
            script=script.name,
            sbatch_args=list(self.sbatch_args),
        )
        log.info("submitted prep array %s (%s); waiting for it", job_id, script.name)
        state = handle.wait(self.timeout, self.poll)
        tasks = {k: r.state for k, r in handle.states().items()}
        events.record(
            state_dir,
            "finished" if state == "COMPLETED" else "failed",
            kind="prep-array",
            job_id=job_id,
            tasks=tasks,
        )
