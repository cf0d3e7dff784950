"""The parallel section: backend and parallel degrees (validated against the model in `checks`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from llm_train.config.base import Section


class ParallelConfig(Section):
    backend: Literal["deepspeed", "megatron"] = "deepspeed"
    tp: PositiveInt = 1
    pp: PositiveInt = 1
    # Virtual pipeline stages per rank (interleaved 1F1B); None = plain 1F1B.
    vpp: PositiveInt | None = None
    cp: PositiveInt = 1
    sp: bool = False
    # Data-parallel degree; "auto" derives it from the world size at launch.
    dp: PositiveInt | Literal["auto"] = "auto"
    zero_stage: int = Field(1, ge=0, le=3)
    distributed_optimizer: bool = True
    offload_optimizer: Literal["none", "cpu", "nvme"] = "none"
    offload_params: Literal["none", "cpu", "nvme"] = "none"
    nvme_path: str | None = None
    recompute: Literal["none", "selective", "full"] = "none"
    # Distributed backend; "auto" picks nccl on CUDA, gloo on CPU.
    dist_backend: Literal["auto", "nccl", "gloo"] = "auto"

    @property
    def model_parallel_size(self) -> int:
        return self.tp * self.pp * self.cp

    def data_parallel_size(self, world_size: int) -> int:
        """DP degree for a world size; raises ValueError when the layout does not fit it."""
        mp = self.model_parallel_size
        if world_size % mp:
            raise ValueError(f"world size {world_size} is not divisible by tp*pp*cp = {mp}")
        dp = world_size // mp
        if self.dp != "auto" and self.dp != dp:
            raise ValueError(f"parallel.dp={self.dp} but world size {world_size} / (tp*pp*cp) = {dp}")
        return dp

    def world_size(self) -> int | None:
        return None if self.dp == "auto" else self.model_parallel_size * self.dp
