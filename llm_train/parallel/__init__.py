"""The parallel layout: one validated object for the parallel degrees and every rule they obey.

`config validate`, `submit`, `plan`, both backends and the launcher all ask `layout` (see its
docstring for the rules); nothing else in the project knows a divisibility rule.
"""

from llm_train.parallel.layout import (
    ParallelLayout,
    Problem,
    Shape,
    cluster_world_size,
    config_problems,
    layout_error,
    layout_problems,
    ranks_per_node,
    resolve_layout,
)
from llm_train.parallel.runtime import Runtime

__all__ = [
    "ParallelLayout",
    "Problem",
    "Runtime",
    "Shape",
    "cluster_world_size",
    "config_problems",
    "layout_error",
    "layout_problems",
    "ranks_per_node",
    "resolve_layout",
]
