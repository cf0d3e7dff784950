"""`llm-train export --to hf` of a DeepSpeed-layout checkpoint whose vocab rows are padded."""

from __future__ import annotations

import torch

from llm_train.cli.export import main as export_main
from tests.test_eval_support import world


def test_export_drops_vocab_padding_and_matches_native_logits(tmp_path):
    tiny = world(tmp_path / "w", steps=(10,))
    ckpt = tiny["run_dir"] / "checkpoints" / "step-10"
    out = tmp_path / "hf"
    assert export_main(["--to", "hf", str(ckpt), str(out), "--tokenizer", str(tiny["tokenizer"])]) == 0

    from safetensors.torch import load_file
    from transformers import AutoTokenizer, LlamaForCausalLM

    from llm_train.backends.hf_llama import build_llama
    from llm_train.config.model import ModelConfig

    native_state = load_file(str(ckpt / "model.safetensors"))
    spec = ModelConfig.model_validate_json((ckpt / "model_config.json").read_text())
    assert spec.padded_vocab_size > spec.vocab_size  # the case that used to break loading
    native = build_llama(spec, seed=0)
    native.load_state_dict(native_state, strict=False)
    exported = LlamaForCausalLM.from_pretrained(str(out))
    assert exported.config.vocab_size == spec.vocab_size
    AutoTokenizer.from_pretrained(str(out))
    ids = torch.randint(0, spec.vocab_size, (2, 32))
    with torch.no_grad():
        a = native(ids).logits[..., : spec.vocab_size]
        b = exported(ids).logits
    assert torch.allclose(a, b, atol=1e-5)
