"""Training and validation batches from packed data through megatron-core's dataset builder.

The global sample order is fixed by megatron-core's GPTDataset/BlendedDataset indices (seeded);
optimizer step k reads global samples [consumed, consumed + global_batch) and each data-parallel
rank reads its contiguous slice of them (as Megatron's pretraining sampler does). So the data
position is one integer, `consumed_samples`, saved with every checkpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from llm_train.backends.base import MicroBatch
from llm_train.config.schema import ExperimentConfig
from llm_train.data.mixture import Mixture
from llm_train.data.splits import empty_split_message, empty_split_problems, split_documents
from llm_train.data.tokenizer import PackedDataTokenizer
from llm_train.errors import ConfigError, ConfigProblem, DataError
from llm_train.utils.logging import warn_once

log = logging.getLogger(__name__)


def collate(samples: list[dict]) -> MicroBatch:
    return {
        k: torch.stack([torch.as_tensor(s[k]) for s in samples])
        for k in ("tokens", "labels", "loss_mask", "position_ids")
    }


class StepBatches:
    """This rank's micro batches for each optimizer step; state is `consumed_samples`."""

    def __init__(self, dataset, global_batch: int, micro_batch: int, dp_rank: int, dp_size: int):
        self.dataset = dataset
        self.global_batch, self.micro_batch = global_batch, micro_batch
        self.dp_rank, self.dp_size = dp_rank, dp_size
        self.per_rank = global_batch // dp_size
        self.consumed_samples = 0

    def _sample(self, index: int) -> dict:
        if index >= len(self.dataset):
            warn_once(log, "data: ran past the %d built samples; wrapping around", len(self.dataset))
        return self.dataset[index % len(self.dataset)]

    def next_step(self) -> list[MicroBatch]:
        start = self.consumed_samples + self.dp_rank * self.per_rank
        indices = range(start, start + self.per_rank)
        self.consumed_samples += self.global_batch
        return [
            collate([self._sample(i) for i in indices[j : j + self.micro_batch]])
            for j in range(0, self.per_rank, self.micro_batch)
        ]

    def skip(self, samples: int) -> None:
        self.consumed_samples += samples

    def state_dict(self) -> dict:
        return {"consumed_samples": self.consumed_samples}

    def load_state_dict(self, state: dict) -> None:
        self.consumed_samples = int(state["consumed_samples"])


@dataclass
class ValidSet:
    name: str  # "all" or a language
    batches: list[list[MicroBatch]]  # [eval_iter][micro]: this rank's part
    num_bytes: int | None  # UTF-8 bytes of the whole (all ranks) set, for bits-per-byte


def _gpt_config(cfg: ExperimentConfig, blend, tokenizer, cache: Path):
    from megatron.core.datasets.gpt_dataset import GPTDatasetConfig

    return GPTDatasetConfig(
        random_seed=cfg.data.seed,
        sequence_length=cfg.train.seq_length,
        blend=blend,
        split=cfg.data.split,
        path_to_cache=str(cache),
        tokenizer=tokenizer,
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
        create_attention_mask=False,
    )


def _build(cfg, blend, sizes, tokenizer, cache):
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset

    config = _gpt_config(cfg, blend, tokenizer, cache)
    return BlendedMegatronDatasetBuilder(GPTDataset, sizes, lambda: True, config).build()


class PackedData:
    """Builds the train stream and the validation sets (blend + one per language)."""

    def __init__(self, cfg: ExperimentConfig, mixture: Mixture, cache_dir: Path):
        self.cfg, self.mixture = cfg, mixture
        self.cache_dir = Path(cfg.data.index_cache or cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        if mixture.tokenizer is None:
            # The end-of-document id is the tokenizer's: training without it would guess.
            raise DataError(
                f"{mixture.path}: names no tokenizer (add `tokenizer: DIR`, as `llm-train pack` writes)"
            )
        self.tokenizer = PackedDataTokenizer.from_dir(mixture.tokenizer, cfg.model.padded_vocab_size)
        tokens = len(self.tokenizer.vocab)
        if tokens > cfg.model.vocab_size:
            raise ConfigError(
                [
                    ConfigProblem(
                        None,
                        "model.vocab_size",
                        f"expected >= the tokenizer's {tokens} tokens ({mixture.tokenizer})",
                        cfg.model.vocab_size,
                    )
                ]
            )
        for d in mixture.datasets:
            if d not in mixture.sampled:
                log.info("data: %s has weight 0 in %s: not sampled", d.name, mixture.path)
        self._check_splits()

    def split_documents(self, entry) -> list[int]:
        """Documents of `entry` in the train/valid/test splits, as megatron-core rounds them."""
        return split_documents(self._documents(entry), self.cfg.data.split)

    @staticmethod
    def _documents(entry) -> int:
        from megatron.core.datasets.indexed_dataset import IndexedDataset

        return len(IndexedDataset(entry.prefix))

    def _check_splits(self) -> None:
        split = self.cfg.data.split
        empty = empty_split_problems({e.name: self._documents(e) for e in self.mixture.sampled}, split)
        if empty:
            message = "a split that leaves every dataset a document in each non-zero part; "
            raise ConfigError(
                [ConfigProblem(None, "data.split", message + empty_split_message(empty, split), split)]
            )

    def train(self, total_steps: int, dp_rank: int, dp_size: int, built_samples: int = 0) -> StepBatches:
        """The train stream; `built_samples`: the size a resumed run's index was built with, kept
        when it still covers the run so the sample order is the same whatever the layout or batch."""
        t, s = self.cfg.train, self.cfg.train.spike
        # Room for the windows the spike policy may skip after rollbacks.
        spare = s.max_rollbacks * (
            s.skip_samples_on_rollback + self.cfg.checkpoint.every_steps * t.global_batch_size
        )
        samples = total_steps * t.global_batch_size + spare
        if built_samples >= samples:
            samples = built_samples
        elif built_samples:
            # megatron-core shuffles over the whole requested size: a bigger index is another order.
            log.warning(
                "data: the run now needs %d samples, its index was built for %d: it is rebuilt for the "
                "longer run, so the samples not consumed yet come in a new order",
                samples,
                built_samples,
            )
        train, _, _ = _build(self.cfg, self.mixture.blend(), [samples, 0, 0], self.tokenizer, self.cache_dir)
        return StepBatches(train, t.global_batch_size, t.micro_batch_size, dp_rank, dp_size)

    def valid(self, dp_rank: int, dp_size: int) -> list[ValidSet]:
        t = self.cfg.train
        samples = t.eval_iters * t.global_batch_size
        # Datasets too small to have a validation document are left out (same hang as above).
        usable = [e for e in self.mixture.sampled if self.split_documents(e)[1] > 0]
        for e in self.mixture.sampled:
            if e not in usable:
                warn_once(
                    log, "data: %s has no validation documents at data.split %s", e.name, self.cfg.data.split
                )
        if not usable:
            return []
        sets = [("all", ([e.prefix for e in usable], [e.weight for e in usable]))]
        by_lang: dict[str, list] = {}
        for e in usable:
            by_lang.setdefault(e.lang or e.name, []).append(e)
        if len(by_lang) > 1 or len(usable) > 1:
            sets += [(lang, ([e.prefix for e in es], [e.weight for e in es])) for lang, es in by_lang.items()]
        out = []
        for name, blend in sets:
            blend = blend if len(blend[0]) > 1 else (blend[0], None)
            _, valid, _ = _build(self.cfg, blend, [0, samples, 0], self.tokenizer, self.cache_dir)
            if valid is None or len(valid) == 0:
                warn_once(
                    log, "data: no validation samples for %s (data.split %s)", name, self.cfg.data.split
                )
                continue
            stream = StepBatches(valid, t.global_batch_size, t.micro_batch_size, dp_rank, dp_size)
            batches = [stream.next_step() for _ in range(t.eval_iters)]
            out.append(ValidSet(name, batches, self._bytes(valid, samples)))
        return out

    def _bytes(self, dataset, samples: int) -> int:
        # Bytes of the predicted tokens (labels), the same tokens the NLL is summed over.
        return sum(
            self.tokenizer.num_bytes(dataset[i % len(dataset)]["labels"].tolist()) for i in range(samples)
        )
