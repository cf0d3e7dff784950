"""Planning before spending: memory per device, parallel layout search, step time, cost."""

from llm_train.plan.cost import Cost, estimate_cost
from llm_train.plan.layout import enumerate_layouts
from llm_train.plan.memory import MemoryEstimate, estimate_memory
from llm_train.plan.planner import Plan, PlanOptions, make_plan
from llm_train.plan.timing import StepTime, estimate_step_time
from llm_train.plan.workload import Devices, Workload

__all__ = [
    "Cost",
    "Devices",
    "MemoryEstimate",
    "Plan",
    "PlanOptions",
    "StepTime",
    "Workload",
    "enumerate_layouts",
    "estimate_cost",
    "estimate_memory",
    "estimate_step_time",
    "make_plan",
]
