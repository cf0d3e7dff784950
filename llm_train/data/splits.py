"""How megatron-core divides a packed dataset's documents between train, valid and test (`data.split`).

One owner for the rule: the trainer refuses a mixture that breaks it (megatron-core loops forever,
and the other ranks time out in a barrier, when a dataset's share of a non-empty split holds no
document, even if no sample is asked of that split), and `llm-train pack` warns about it with the
same words before a job is queued.
"""

from __future__ import annotations

SPLIT_NAMES = ("train", "valid", "test")
FIX = (
    "drop those datasets from the mixture, give them more text (loosen the prep filters for their "
    "language, or add sources), or change data.split"
)


def split_parts(split: str) -> list[float]:
    """`"98,2,0"` -> [98.0, 2.0, 0.0]."""
    return [float(x) for x in split.split(",")]


def split_documents(n_docs: int, split: str) -> list[int]:
    """Documents of a dataset of `n_docs` in each part of `split`, as megatron-core rounds them."""
    parts = split_parts(split)
    bounds = [0.0]
    for part in parts:
        bounds.append(bounds[-1] + part / sum(parts))
    return [
        int(round(hi * n_docs)) - int(round(lo * n_docs)) for lo, hi in zip(bounds, bounds[1:], strict=False)
    ]


def empty_parts(n_docs: int, split: str) -> list[str]:
    """Names of the non-zero parts of `split` that get no document of a dataset of `n_docs`."""
    parts = split_parts(split)
    return [
        SPLIT_NAMES[i] for i, docs in enumerate(split_documents(n_docs, split)) if parts[i] > 0 and docs == 0
    ]


def empty_split_message(empty: list[str], split: str) -> str:
    """What is wrong and how to fix it, for `empty` = ["lt (valid)", ...] (trainer and pack say it alike)."""
    return f"no document of {', '.join(empty)} at data.split {split}: {FIX}"


def empty_split_problems(documents: dict[str, int], split: str) -> list[str]:
    """["lt (valid)", ...] for datasets (name -> documents) that leave a non-zero part of `split` empty."""
    return [f"{name} ({part})" for name, n in sorted(documents.items()) for part in empty_parts(n, split)]
