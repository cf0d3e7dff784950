"""What the machine a job runs on can do, as far as the layout rules care: CUDA and Transformer Engine.

On a login node this is known only from the cluster profile (a Slurm site's `hardware.accelerator`);
`None` means "unknown" and the rules that depend on it are then left to the start of the job, where
`Runtime.detect()` knows for sure.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass

from llm_train.config.cluster import ClusterConfig


@dataclass(frozen=True)
class Runtime:
    cuda: bool | None = None
    # Transformer Engine importable on a CUDA machine (context parallel attention is TE's).
    te: bool | None = None

    @classmethod
    def detect(cls) -> Runtime:
        return cls(cuda=_cuda(), te=have_transformer_engine())

    @classmethod
    def for_cluster(cls, cluster: ClusterConfig) -> Runtime:
        """A Slurm profile says what its compute nodes are; the `local` profile runs wherever the
        user is, so nothing is known before the job starts."""
        if cluster.scheduler != "slurm":
            return cls()
        if cluster.hardware.accelerator == "cpu":
            return cls(cuda=False, te=False)
        # ROCm builds of torch answer to the same CUDA calls (LUMI-G).
        return cls(cuda=True, te=None)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@functools.cache
def have_transformer_engine() -> bool:
    """TE layers need both the package and a GPU; on CPU the local layers are the only option."""
    return _cuda() and importlib.util.find_spec("transformer_engine") is not None
