"""HuggingFace LlamaForCausalLM directories: safetensors weights, config.json, tokenizer files."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from llm_train import storage
from llm_train.config.model import ModelConfig
from llm_train.convert.llama import hf_config
from llm_train.model.dtypes import dtype_name
from llm_train.utils.atomic import atomic_write_json

# What a tokenizer directory may hold that PreTrainedTokenizerFast / AutoTokenizer read.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
)


def write_hf_model(
    out: Path, tensors: dict[str, torch.Tensor], m: ModelConfig, dtype: torch.dtype = torch.float32
) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    weights = {k: v.to(dtype).contiguous() for k, v in tensors.items()}
    save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})
    storage.fix_mode(out / "model.safetensors")  # safetensors writes 0600 whatever the umask
    atomic_write_json(out / "config.json", hf_config(m, dtype=dtype_name(dtype)))
    atomic_write_json(out / "generation_config.json", {"_from_model_config": True})


def copy_tokenizer(tokenizer_dir: Path, out: Path) -> list[str]:
    """Copy the run's tokenizer files; a bare tokenizer.json gets a minimal tokenizer_config.json."""
    tokenizer_dir, out = Path(tokenizer_dir), Path(out)
    copied = []
    for name in TOKENIZER_FILES:
        if (tokenizer_dir / name).is_file():
            storage.copy_file(tokenizer_dir / name, out / name)
            copied.append(name)
    if "tokenizer.json" not in copied:
        raise FileNotFoundError(f"no tokenizer.json in {tokenizer_dir}")
    if "tokenizer_config.json" not in copied:
        atomic_write_json(out / "tokenizer_config.json", {"tokenizer_class": "PreTrainedTokenizerFast"})
        copied.append("tokenizer_config.json")
    return copied


def read_hf_model(directory: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """config.json and all weights (single or sharded safetensors) of an HF model directory."""
    directory = Path(directory)
    config = json.loads((directory / "config.json").read_text())
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no *.safetensors in {directory}")
    tensors: dict[str, torch.Tensor] = {}
    for f in files:
        tensors.update(load_file(str(f)))
    return config, tensors
