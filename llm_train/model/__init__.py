"""The one model spec (a Llama-style decoder) and the arithmetic every part derives from it."""

from llm_train.model.spec import ParamCounts, flops_per_token, param_counts

__all__ = ["ParamCounts", "flops_per_token", "param_counts"]
