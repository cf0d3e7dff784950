"""`llm-train export`: checkpoints to HuggingFace Llama, and HF weights to a megatron warm start.

llm-train export --to hf CKPT OUT [--tokenizer DIR] [--dtype float32|bfloat16|float16]
    CKPT: a megatron checkpoint (any TP/PP/DP layout), a DeepSpeed-backend checkpoint
    (model.safetensors in HF naming + model_config.json), or a run dir (its latest checkpoint).
llm-train export --to megatron HF_DIR OUT
    an HF LlamaForCausalLM directory -> a model-only megatron checkpoint any layout can load.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch
import yaml

from llm_train.config.model import ModelConfig
from llm_train.errors import LLMTrainError
from llm_train.model.dtypes import DTYPES
from llm_train.run_dir import CONFIG_FILE, checkpoint_kind, resolve_checkpoint

log = logging.getLogger(__name__)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="llm-train export", description=__doc__.split("\n")[0])
    p.add_argument("--to", choices=["hf", "megatron"], required=True, help="target format")
    p.add_argument("source", type=Path, help="checkpoint dir, run dir, or (--to megatron) HF model dir")
    p.add_argument("out", type=Path, help="output directory")
    p.add_argument("--tokenizer", type=Path, help="tokenizer dir (default: the run config's data.tokenizer)")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32", help="weight dtype (--to hf)")
    return p.parse_args(argv)


def find_run_tokenizer(ckpt: Path) -> Path | None:
    """data.tokenizer from the resolved config.yaml of the run the checkpoint belongs to."""
    for parent in [ckpt, *ckpt.resolve().parents][:4]:
        cfg_file = parent / CONFIG_FILE
        if cfg_file.is_file():
            tok = (yaml.safe_load(cfg_file.read_text()) or {}).get("data", {}).get("tokenizer")
            return Path(tok) if tok else None
    return None


def _model_config(ckpt: Path) -> ModelConfig:
    from llm_train.backends.megatron.checkpoint import MODEL_CONFIG_FILE

    f = ckpt / MODEL_CONFIG_FILE
    if not f.is_file():
        raise LLMTrainError(f"{ckpt} has no {MODEL_CONFIG_FILE}: not a checkpoint written by llm-train")
    return ModelConfig.model_validate(json.loads(f.read_text()))


def export_hf(ckpt: Path, out: Path, tokenizer: Path | None, dtype: torch.dtype) -> None:
    from llm_train.convert.hf import copy_tokenizer, write_hf_model
    from llm_train.convert.llama import megatron_to_hf

    ckpt = resolve_checkpoint(ckpt)
    m = _model_config(ckpt)
    kind = checkpoint_kind(ckpt)
    if kind == "megatron":
        from llm_train.convert.megatron_io import read_model_tensors

        tensors = megatron_to_hf(read_model_tensors(ckpt, m), m)
    elif kind == "native-hf":
        from safetensors.torch import load_file

        tensors = load_file(str(ckpt / "model.safetensors"))  # already HF naming
        # The trainer keeps the padded embedding rows; HF's vocab_size is the tokenizer's.
        for name in ("model.embed_tokens.weight", "lm_head.weight"):
            if name in tensors:
                tensors[name] = tensors[name][: m.vocab_size].contiguous()
    else:
        raise LLMTrainError(f"{ckpt}: already a HuggingFace model (config.json), nothing to export")
    write_hf_model(out, tensors, m, dtype)
    tokenizer = tokenizer or find_run_tokenizer(ckpt)
    if tokenizer is None:
        log.warning("no tokenizer given or found in the run config: %s has weights and config only", out)
    else:
        copy_tokenizer(tokenizer, out)
    log.info("exported %s checkpoint %s -> %s (HF Llama, %s)", kind, ckpt, out, dtype)


def export_megatron(hf_dir: Path, out: Path) -> None:
    from llm_train.convert.hf import read_hf_model
    from llm_train.convert.llama import hf_to_megatron, model_config_from_hf
    from llm_train.convert.megatron_io import write_model_checkpoint

    hf_cfg, tensors = read_hf_model(hf_dir)
    m = model_config_from_hf(hf_cfg, name=hf_dir.name)
    write_model_checkpoint(hf_to_megatron({k: v.float() for k, v in tensors.items()}, m), out, m)
    log.info("wrote model-only megatron checkpoint %s from %s", out, hf_dir)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not args.source.exists():
        raise LLMTrainError(f"{args.source} does not exist")
    if args.to == "hf":
        export_hf(args.source, args.out, args.tokenizer, DTYPES[args.dtype])
    else:
        export_megatron(args.source, args.out)
    return 0
