"""Builders for the eval tests: a real corpus sample, a tiny BPE tokenizer and tiny run dirs in the
trainer's layout (no test functions here)."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import torch
import zstandard

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
LANGS = ("de", "fr", "it")


def sample_texts(lang: str, n: int) -> list[str]:
    out = []
    with gzip.open(SAMPLE / f"manpages-{lang}.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            text = json.loads(line)["text"]
            if 300 < len(text) < 6000:
                out.append(text)
            if len(out) >= n:
                break
    return out


def write_zst(path: Path, docs: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode()
    path.write_bytes(zstandard.ZstdCompressor().compress(data))


def make_corpus(root: Path, langs=LANGS, n: int = 12) -> Path:
    for lang in langs:
        texts = sample_texts(lang, 2 * n)
        docs = [
            {"id": f"{lang}-{i}", "text": t, "lang": lang, "source": "manpages"} for i, t in enumerate(texts)
        ]
        write_zst(root / lang / "train" / "part-00000.jsonl.zst", docs[n:])
        write_zst(root / lang / "validation" / "part-00000.jsonl.zst", docs[:n])
    return root


def make_tokenizer(directory: Path, texts: list[str], vocab: int = 384) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.save_pretrained(str(directory))
    return directory


def tiny_spec(vocab: int = 400, max_seq_len: int = 128):
    """vocab 400 > the tokenizer's 384 and padded to 448: padding rows exist, as in real runs."""
    from llm_train.config.model import ModelConfig

    return ModelConfig(
        name="test",
        vocab_size=vocab,
        make_vocab_size_divisible_by=64,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        ffn_hidden_size=64,
        max_seq_len=max_seq_len,
        tie_embeddings=True,
    )


def write_checkpoint(run_dir: Path, step: int, spec, seed: int | None = None, ready: bool = True) -> Path:
    """A checkpoint as the DeepSpeed backend leaves it: HF-named safetensors + our spec + marker."""
    from safetensors.torch import save_file

    from llm_train.backends.hf_llama import build_llama, hf_state_dict_for_safetensors, llama_config
    from llm_train.utils.atomic import atomic_write_json, atomic_write_text

    ckpt = run_dir / "checkpoints" / f"step-{step}"
    ckpt.mkdir(parents=True, exist_ok=True)
    model = build_llama(spec, seed=seed if seed is not None else step)
    save_file(
        hf_state_dict_for_safetensors(model.state_dict(), tied=spec.tie_embeddings),
        str(ckpt / "model.safetensors"),
    )
    llama_config(spec).to_json_file(str(ckpt / "config.json"))
    atomic_write_json(ckpt / "model_config.json", spec.model_dump(mode="json"))
    atomic_write_json(ckpt / "trainer_state.json", {"step": step})
    if ready:
        atomic_write_json(
            run_dir / "checkpoints" / f"step-{step}.ready.json", {"step": step, "time": time.time()}
        )
        atomic_write_text(run_dir / "checkpoints" / "latest", f"step-{step}\n")
    return ckpt


def make_run(
    run_dir: Path, tokenizer: Path, corpus: Path, steps=(10, 20), tasks: list[str] | None = None, spec=None
) -> Path:
    from llm_train.config.loader import dump_yaml
    from llm_train.config.schema import ExperimentConfig

    spec = spec or tiny_spec()
    cfg = ExperimentConfig.model_validate(
        {
            "name": "evaltest",
            "runs_dir": str(run_dir.parent.parent),
            "model": spec.model_dump(mode="json"),
            "data": {"tokenizer": str(tokenizer), "valid_corpus": str(corpus)},
            "train": {"steps": 100, "seq_length": 64, "global_batch_size": 4, "micro_batch_size": 4},
            "tracking": {"aim": True, "system_metrics": False},
            "eval": {
                "tasks": tasks or [],
                "max_docs_per_language": 6,
                "max_tokens_per_doc": 512,
                "batch_size": 4,
            },
        }
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(dump_yaml(cfg))
    with open(run_dir / "metrics.jsonl", "w") as handle:
        for step in range(5, max(steps, default=5) + 1, 5):
            rec = {
                "step": step,
                "context": {"subset": "train"},
                "metrics": {"loss": 6.0 - step / 10, "consumed_samples": step * 4},
            }
            handle.write(json.dumps(rec) + "\n")
    for step in steps:
        write_checkpoint(run_dir, step, spec)
    return run_dir


def world(tmp_path: Path, steps=(10, 20), tasks=None) -> dict:
    corpus = make_corpus(tmp_path / "clean")
    texts = [t for lang in LANGS for t in sample_texts(lang, 24)]
    tokenizer = make_tokenizer(tmp_path / "tokenizer", texts)
    run_dir = make_run(tmp_path / "runs" / "evaltest" / "run1", tokenizer, corpus, steps, tasks)
    torch.manual_seed(0)
    return {"corpus": corpus, "tokenizer": tokenizer, "run_dir": run_dir}
