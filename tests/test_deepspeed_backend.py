"""The DeepSpeed backend: model == spec, and the settings we expose really reach DeepSpeed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llm_train.backends.deepspeed_config import deepspeed_config
from llm_train.config.model import ModelConfig
from llm_train.config.schema import ExperimentConfig
from llm_train.errors import ConfigError
from llm_train.model.spec import param_counts
from llm_train.parallel import Runtime, resolve_layout
from tests.helpers.tiny_packed import train_env


@pytest.mark.parametrize(
    "model",
    [
        ModelConfig(
            vocab_size=320,
            hidden_size=64,
            num_layers=2,
            num_heads=4,
            num_kv_heads=2,
            ffn_hidden_size=176,
            tie_embeddings=True,
            make_vocab_size_divisible_by=64,
        ),
        ModelConfig(
            vocab_size=1000,
            hidden_size=96,
            num_layers=3,
            num_heads=6,
            ffn_hidden_size=256,
            tie_embeddings=False,
        ),
    ],
)
def test_hf_llama_parameter_count_equals_spec(model):
    from llm_train.backends.hf_llama import build_llama, optimizer_param_groups

    hf = build_llama(model, seed=0)
    assert sum(p.numel() for p in hf.parameters()) == param_counts(model).total
    decay, no_decay = optimizer_param_groups(hf, 0.1, tied=model.tie_embeddings)
    assert all(p.ndim == 2 for p in decay["params"])
    no_decay_ids = {id(p) for p in no_decay["params"]}
    assert id(hf.model.embed_tokens.weight) in no_decay_ids and id(hf.model.norm.weight) in no_decay_ids
    # An untied output head is a layer weight like any other; a tied one is the embedding.
    assert (id(hf.lm_head.weight) in no_decay_ids) == model.tie_embeddings


def test_config_maps_every_exposed_setting():
    cfg = ExperimentConfig.model_validate(
        {
            "train": {
                "steps": 1,
                "global_batch_size": 16,
                "micro_batch_size": 2,
                "grad_clip": 0.5,
                "precision": "bf16",
            },
            "parallel": {
                "zero_stage": 3,
                "offload_optimizer": "cpu",
                "offload_params": "nvme",
                "nvme_path": "/x",
            },
        }
    )
    ds = deepspeed_config(cfg, resolve_layout(cfg, 2, Runtime(cuda=False, te=False)))
    assert ds["gradient_accumulation_steps"] == 4 and ds["train_batch_size"] == 16
    assert ds["gradient_clipping"] == 0.5 and ds["bf16"]["enabled"] and not ds["fp16"]["enabled"]
    assert ds["zero_optimization"]["stage"] == 3
    assert ds["zero_optimization"]["offload_optimizer"] == {"device": "cpu"}
    assert ds["zero_optimization"]["offload_param"] == {"device": "nvme", "nvme_path": "/x"}
    with pytest.raises(ConfigError, match="global_batch_size"):
        resolve_layout(cfg, 3, Runtime(cuda=False, te=False))


SCRIPT = r"""
import json, sys, torch
from llm_train.backends import build_backend, run_step
from llm_train.config import ExperimentConfig
from llm_train.launch.dist_env import detect

BASE = {"model": {"vocab_size": 320, "hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2,
                  "ffn_hidden_size": 176, "make_vocab_size_divisible_by": 64, "max_seq_len": 64,
                  "tie_embeddings": True},
        "train": {"steps": 4, "seq_length": 32, "global_batch_size": 4, "micro_batch_size": 2,
                  "precision": "fp32", "warmup_steps": 0, "lr": 1e-2}}

def make(train=None, parallel=None):
    raw = json.loads(json.dumps(BASE))
    raw["train"].update(train or {})
    raw["parallel"] = parallel or {}
    b = build_backend(ExperimentConfig.model_validate(raw), detect())
    b.build()
    return b

def batches():
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(2):
        t = torch.randint(0, 320, (2, 32), generator=g)
        out.append({"tokens": t, "labels": torch.roll(t, -1, 1), "loss_mask": torch.ones(2, 32),
                    "position_ids": torch.arange(32).repeat(2, 1)})
    return out

def opt_state(b):
    return sorted((float(v.float().sum()) for st in b.optimizer.state.values() for v in st.values()))

def params(b):
    return [p.detach().clone() for p in b.engine.module.parameters()]

def delta(b, before):
    return float(sum((p.detach().float() - q.float()).abs().sum() for p, q in zip(b.engine.module.parameters(), before)))

out = {}
for clip in (0.0, 1e-9):
    b = make({"grad_clip": clip})
    before = params(b)
    r = run_step(b, batches(), 1e-2)
    out[f"clip{clip}"] = {"delta": delta(b, before), "engine_clip": b.engine.gradient_clipping(), "gnorm": r.grad_norm}
b = make()
before, state = params(b), opt_state(b)
r = run_step(b, batches(), 1e-2, is_bad=lambda loss: True)
out["skip"] = {"delta": delta(b, before), "skipped": r.skipped, "adam_state_unchanged": opt_state(b) == state}
r = run_step(b, batches(), 1e-2)
out["after_skip"] = {"delta": delta(b, before), "skipped": r.skipped, "adam_state_changed": opt_state(b) != state}
b = make(parallel={"zero_stage": 3})
out["zero3"] = {"stage": b.engine.zero_optimization_stage(), "local_numel": sum(p.numel() for p in b.engine.module.parameters()),
                "num_params": b.num_params(), "loss": run_step(b, batches(), 1e-2).loss}
b = make({"precision": "bf16"}, {"zero_stage": 1})
out["bf16"] = {"enabled": b.engine.bfloat16_enabled(), "dtypes": sorted({str(p.dtype) for p in b.engine.module.parameters()}),
               "loss": run_step(b, batches(), 1e-2).loss}
print("RESULT" + json.dumps(out))
"""


@pytest.mark.slow
def test_clipping_zero_stage_bf16_and_skip_take_effect():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=train_env(), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.split("RESULT", 1)[1])
    # Clipping to 1e-9 makes AdamW's first update ~g/eps instead of ~lr*sign(g): far smaller.
    assert out["clip1e-09"]["engine_clip"] == 1e-9 and out["clip0.0"]["engine_clip"] == 0.0
    assert out["clip1e-09"]["delta"] < 0.2 * out["clip0.0"]["delta"]
    assert out["clip0.0"]["gnorm"] > 0 and out["clip0.0"]["gnorm"] == pytest.approx(out["clip1e-09"]["gnorm"])
    assert out["skip"] == {"delta": 0.0, "skipped": True, "adam_state_unchanged": True}
    assert (
        out["after_skip"]["delta"] > 0
        and not out["after_skip"]["skipped"]
        and out["after_skip"]["adam_state_changed"]
    )
    z3 = out["zero3"]
    assert z3["stage"] == 3 and z3["local_numel"] == 0  # parameters are partitioned away
    spec_total = 320 * 64 + 2 * (64 * 64 * 2 + 2 * 64 * 32 + 3 * 64 * 176 + 2 * 64) + 64
    assert z3["num_params"] == spec_total
    assert out["bf16"]["enabled"] and out["bf16"]["dtypes"] == ["torch.bfloat16"]
    assert 0 < out["bf16"]["loss"] < 10
