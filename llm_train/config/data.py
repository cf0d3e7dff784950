"""The data section: where packed training data and the validation corpus live."""

from __future__ import annotations

from pydantic import Field, NonNegativeInt

from llm_train.config.base import Section


class DataConfig(Section):
    # mixture.yaml written by `llm-train pack --mixture` (packed-data contract).
    mixture: str | None = None
    # Directory holding tokenizer.json (loadable by PreTrainedTokenizerFast).
    tokenizer: str | None = None
    # Megatron-style train/valid/test split of each packed dataset, in parts.
    split: str = Field("98,2,0", pattern=r"^\d+(\.\d+)?,\d+(\.\d+)?,\d+(\.\d+)?$")
    # Clean corpus dir (output of `llm-train prep`) whose validation split feeds per-language BPB.
    valid_corpus: str | None = None
    seed: NonNegativeInt = 1234
    num_workers: NonNegativeInt = 0
    # Where megatron-core caches its sample/shuffle indices; None puts them in the run dir.
    index_cache: str | None = None
