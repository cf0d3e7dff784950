"""Tiny packed datasets in the packed-data contract (for trainer tests): a byte-level BPE
tokenizer trained on synthetic two-language text, Megatron .bin/.idx per language, mixture.yaml."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import yaml

WORDS = {
    "de": [
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "ein",
        "eine",
        "mit",
        "auf",
        "für",
        "von",
        "zu",
        "den",
        "dem",
        "sich",
        "auch",
    ],
    "fr": [
        "le",
        "la",
        "les",
        "et",
        "est",
        "pas",
        "un",
        "une",
        "avec",
        "sur",
        "pour",
        "de",
        "du",
        "des",
        "au",
        "se",
        "aussi",
    ],
}


def _sentences(lang: str, n: int, rng: random.Random) -> list[str]:
    words = WORDS[lang]
    out = []
    for _ in range(n):
        # A repeating pattern: a model learns it in a few steps, so loss visibly falls.
        start = rng.randrange(len(words))
        out.append(" ".join(words[(start + k) % len(words)] for k in range(rng.randint(8, 40))) + ".")
    return out


def make_packed(root: Path, docs_per_lang: int = 200, vocab_size: int = 320, seed: int = 0) -> Path:
    """Write tokenizer/, packed/<lang>_text_document.{bin,idx} and packed/mixture.yaml; return the yaml path."""
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    rng = random.Random(seed)
    texts = {lang: _sentences(lang, docs_per_lang, rng) for lang in WORDS}
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator([t for ts in texts.values() for t in ts], trainer)
    tok_dir = root / "tokenizer"
    tok_dir.mkdir(parents=True, exist_ok=True)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    fast.save_pretrained(str(tok_dir))
    eod = fast.eos_token_id
    packed = root / "packed"
    packed.mkdir(parents=True, exist_ok=True)
    entries = []
    for lang, docs in texts.items():
        prefix = packed / f"{lang}_text_document"
        builder = IndexedDatasetBuilder(str(prefix) + ".bin", dtype=np.uint16)
        tokens = 0
        for doc in docs:
            ids = fast.encode(doc) + [eod]
            tokens += len(ids)
            builder.add_document(np.asarray(ids, dtype=np.int64), [len(ids)])
        builder.finalize(str(prefix) + ".idx")
        entries.append(
            {
                "name": lang,
                "prefix": prefix.name,
                "weight": 0.5,
                "tokens": tokens,
                "documents": len(docs),
                "lang": lang,
                "source": "synthetic",
            }
        )
    mixture = packed / "mixture.yaml"
    mixture.write_text(yaml.safe_dump({"version": 1, "tokenizer": "../tokenizer", "datasets": entries}))
    return mixture


def write_experiment(tmp: Path, mixture: Path, **sections) -> Path:
    """A small experiment YAML (tiny model, 2-rank-friendly batches) with section overrides."""
    cfg = {
        "defaults": [{"model": "tiny"}, {"cluster": "local"}],
        "name": "t",
        "runs_dir": str(tmp / "runs"),
        "model": {"vocab_size": 320},
        "data": {"mixture": str(mixture), "split": "90,10,0"},
        "train": {
            "steps": 6,
            "seq_length": 64,
            "global_batch_size": 8,
            "micro_batch_size": 2,
            "precision": "fp32",
            "lr": 3e-3,
            "min_lr": 3e-4,
            "warmup_steps": 2,
            "log_every": 1,
            "eval_every": 0,
        },
        "parallel": {"backend": "deepspeed", "zero_stage": 1},
        "checkpoint": {"every_steps": 3, "keep_last": 2},
        "tracking": {"aim": False, "system_metrics": False},
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            cfg.setdefault(section, {}).update(values)
        else:
            cfg[section] = values
    path = tmp / "experiment.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


REPO = Path(__file__).resolve().parents[2]


def train_env(**extra: str) -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", DS_ACCELERATOR="cpu", LLM_TRAIN_CONFIGS=str(REPO / "configs"))
    env.update(extra)
    return env


def train_cmd(config: Path, *args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "llm_train.cli.main", "train", str(config), *args]


def megatron_shim_env() -> dict[str, str]:
    """Environment for processes the test does not start itself (torchrun ranks): each loads the
    test-only megatron CPU shim at start-up (tests/megatron_shim_site)."""
    return train_env(
        PYTHONPATH=f"{REPO / 'tests' / 'megatron_shim_site'}:{REPO}", LLM_TRAIN_TEST_CPU_SHIM="1"
    )


def run_megatron_train(config: Path, cwd: Path, nproc: int, run_id: str) -> Path:
    """`llm-train train CONFIG` on CPU through the shim; returns the run dir (experiment name "t")."""
    import subprocess

    proc = subprocess.run(
        train_cmd(config, "--nproc", str(nproc), "--run-id", run_id),
        env=megatron_shim_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return cwd / "runs" / "t" / run_id
