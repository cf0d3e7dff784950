"""The one table of floating-point types: config precisions and torch/HF names map to torch dtypes."""

from __future__ import annotations

import torch

# train.precision -> torch dtype.
PRECISIONS: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# The names torch and HF configs use ("float32", ...): --dtype options, `torch_dtype` in config.json.
DTYPES: dict[str, torch.dtype] = {str(d).removeprefix("torch."): d for d in PRECISIONS.values()}


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
