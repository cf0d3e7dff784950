"""Load any checkpoint as a `transformers.LlamaForCausalLM` in eval mode.

- native-hf: a DeepSpeed-backend checkpoint (model.safetensors with HF Llama names + model_config.json,
  our spec). The model is built from the spec by `llm_train.backends.hf_llama`, so what is evaluated
  is exactly what was trained, not what a config.json claims.
- megatron: a dist_checkpointing dir of any TP/PP layout, converted to the same HF state dict by
  `llm_train.convert` (the one place that knows megatron's names).
- hf: an HF export (`llm-train export --to hf` or any local Llama dir), via `from_pretrained`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from evals.checkpoints import checkpoint_kind
from evals.errors import CheckpointError
from llm_train.model.dtypes import DTYPES

log = logging.getLogger(__name__)


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CheckpointError(f"device {device!r} asked for but CUDA is not available")
    return torch.device(device)


def load_model(path: Path, device: str = "auto", dtype: str = "float32"):
    """(model, info) where info names the kind and the spec; any read failure is a CheckpointError."""
    path = Path(path)
    kind = checkpoint_kind(path)
    try:
        if kind == "hf":
            model = _load_hf(path)
            vocab = int(model.config.vocab_size)
        else:
            spec = _read_spec(path)
            state = _megatron_state_dict(path, spec) if kind == "megatron" else _safetensors_state(path)
            model = _build_from_spec(spec, state)
            vocab = spec.vocab_size
    except CheckpointError:
        raise
    except Exception as exc:  # safetensors, torch and transformers raise many types on a bad file
        raise CheckpointError(f"{path}: cannot load {kind} checkpoint: {type(exc).__name__}: {exc}") from exc
    model = model.to(device=resolve_device(device), dtype=DTYPES[dtype]).eval()
    model.requires_grad_(False)
    # vocab_size: the spec's vocabulary; rows past it are embedding padding.
    return model, {
        "kind": kind,
        "path": str(path),
        "dtype": dtype,
        "vocab_size": vocab,
        "max_seq_len": int(model.config.max_position_embeddings),
    }


def _read_spec(path: Path):
    from llm_train.config.model import ModelConfig

    spec_file = path / "model_config.json"
    if not spec_file.is_file():
        raise CheckpointError(
            f"{path}: no model_config.json (the model spec every native checkpoint carries)"
        )
    return ModelConfig.model_validate(json.loads(spec_file.read_text()))


def _safetensors_state(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def _megatron_state_dict(path: Path, spec) -> dict[str, torch.Tensor]:
    try:
        from llm_train.convert.llama import megatron_to_hf
        from llm_train.convert.megatron_io import read_model_tensors
    except ImportError as exc:
        raise CheckpointError(
            f"{path}: megatron checkpoint, but megatron-core / llm_train.convert is missing"
        ) from exc
    return megatron_to_hf(read_model_tensors(path, spec), spec)


def _build_from_spec(spec, state: dict[str, torch.Tensor]):
    from transformers import LlamaForCausalLM
    from transformers.modeling_utils import no_init_weights

    from llm_train.backends.hf_llama import llama_config

    # The DeepSpeed backend stores the padded vocabulary, the megatron conversion the real one.
    cfg = llama_config(spec, vocab_size=int(state["model.embed_tokens.weight"].shape[0]))
    cfg._attn_implementation = "sdpa"
    with no_init_weights():  # every weight is overwritten below: skip the random init
        model = LlamaForCausalLM(cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if spec.tie_embeddings:
        missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        raise CheckpointError(
            f"weights do not match the spec: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    if spec.tie_embeddings:
        model.tie_weights()
    return model


def _load_hf(path: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(
        str(path), local_files_only=True, attn_implementation="sdpa", torch_dtype=torch.float32
    )
