"""`plan` against published training runs: GPU-hours within 10% from published settings.

Each run is predicted from its model shape, token count and GPU type plus one published
throughput figure (MFU, tokens/s/GPU or hardware TFLOP/s), never from its GPU-hours. All runs
use the same goodput (share of allocated time that trains, `plan`'s default 0.9).
Sources:
- Llama 2 GPU-hours: Touvron et al. 2023, arXiv:2307.09288, Table 2 (A100-80GB): 7B 184,320;
  13B 368,640; 70B 1,720,320; 2.0T tokens, 4k context. Meta published no Llama 2 throughput; the
  throughput of the same team's code on the same A100-80GB cluster is LLaMA-65B's "around 380
  tokens/sec/GPU on 2048 A100 GPU with 80GB of RAM" (Touvron et al. 2023, arXiv:2302.13971, §2.4),
  converted to MFU with our FLOP count (~49.5%).
- BLOOM-176B: 1,082,990 GPU-hours and 366B tokens on 384 A100-80GB (arXiv:2211.05100);
  throughput "about 150 TFLOPs" per GPU as Megatron-DeepSpeed counts it, with full activation
  recomputation (BigScience training README / model card).
- Falcon-180B: about 7,000,000 A100-40GB GPU-hours for 3.5T tokens on up to 4,096 GPUs
  (arXiv:2311.16867; TII/HF release notes). The Falcon paper's own utilisation figure is not
  used here; the input is the published MFU of 3D-parallel training at this scale on A100:
  51.4% for a 175B GPT with selective recompute and SP (Korthikanti et al. 2022,
  arXiv:2205.05198, Table 5).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_train.config.compose import read_yaml
from llm_train.config.model import ModelConfig
from llm_train.model.spec import param_counts
from llm_train.plan.planner import search_layouts
from llm_train.plan.reference import mfu_from_hardware_tflops, mfu_from_tokens_per_second, predict_cost
from llm_train.plan.workload import Devices, Workload

REF = Path(__file__).resolve().parents[1] / "configs" / "model" / "reference"
A100_PEAK = 312.0


def model(name: str) -> ModelConfig:
    return ModelConfig(**read_yaml(REF / f"{name}.yaml"))


def llama_mfu() -> float:
    return mfu_from_tokens_per_second(model("llama1-65b"), 2048, 380, A100_PEAK)


def test_reference_parameter_counts_match_papers():
    published = {
        "llama2-7b": 6.74e9,
        "llama2-13b": 13.0e9,
        "llama2-70b": 69.0e9,
        "bloom-176b": 176.247e9,
        "llama1-65b": 65.2e9,
        "falcon-180b": 180e9,
    }
    for name, n in published.items():
        assert param_counts(model(name)).total == pytest.approx(n, rel=0.02), name


@pytest.mark.parametrize(
    ("name", "gpus", "published_gpu_hours"),
    [("llama2-7b", 2048, 184_320), ("llama2-13b", 2048, 368_640), ("llama2-70b", 2048, 1_720_320)],
)
def test_llama2_gpu_hours(name, gpus, published_gpu_hours):
    mfu = llama_mfu()
    assert 0.45 < mfu < 0.55
    cost = predict_cost(model(name), 4096, 2.0e12, gpus, 8, A100_PEAK, mfu)
    assert cost.gpu_hours == pytest.approx(published_gpu_hours, rel=0.10)


def test_bloom_176b_gpu_hours():
    m = model("bloom-176b")
    mfu = mfu_from_hardware_tflops(m, 2048, 150.0, "full", A100_PEAK)
    assert mfu == pytest.approx(150 / 312 * 0.75, rel=0.02)  # full recompute: 6N of 8N is model work
    cost = predict_cost(m, 2048, 366e9, 384, 8, A100_PEAK, mfu)
    assert cost.gpu_hours == pytest.approx(1_082_990, rel=0.10)
    assert cost.wall_hours / 24 == pytest.approx(3.5 * 30.4, rel=0.15)  # "about 3.5 months"


def test_falcon_180b_gpu_hours():
    cost = predict_cost(model("falcon-180b"), 2048, 3.5e12, 4096, 8, A100_PEAK, 0.514)
    assert cost.gpu_hours == pytest.approx(7.0e6, rel=0.10)


def test_without_goodput_the_same_inputs_undershoot():
    """The goodput term is doing real work: pure compute time alone misses the published hours."""
    cost = predict_cost(model("llama2-13b"), 4096, 2.0e12, 2048, 8, A100_PEAK, llama_mfu(), goodput=1.0)
    assert cost.gpu_hours < 0.9 * 368_640


def test_modelled_mfu_of_llama_65b_is_near_the_published_one():
    """The step-time model alone (no MFU given) on the published setting: LLaMA-65B, 2048
    A100-80GB (8 per node, NVLink3, 200 Gb/s per GPU), 4M-token batches of 2048."""
    devices = Devices(
        count=2048, per_node=8, memory_gb=80, peak_tflops=A100_PEAK, intra_bw_gbps=300, inter_bw_gbps=25
    )
    w = Workload(model("llama1-65b"), 2048, 2048, int(1.4e12), "bf16", "megatron")
    ranked, _ = search_layouts(w, devices, A100_PEAK, allow_offload=False)
    assert ranked
    assert ranked[0].step.mfu(devices.count, A100_PEAK) == pytest.approx(llama_mfu(), rel=0.15)


def test_a_profiles_compute_efficiency_scales_the_compute_term():
    """H100/GH200 and MI250X profiles set a lower best efficiency than the A100-calibrated 0.60."""
    from dataclasses import replace

    from llm_train.plan.timing import MAX_COMPUTE_EFFICIENCY

    base = Devices(count=8, per_node=8, memory_gb=80, peak_tflops=989, intra_bw_gbps=450, inter_bw_gbps=25)
    w = Workload(model("llama2-7b"), 4096, 1024, int(1e12), "bf16", "megatron")
    (default, *_), _ = search_layouts(w, base, 989, allow_offload=False)
    slower = replace(base, max_compute_efficiency=0.5)
    (lowered, *_), _ = search_layouts(w, slower, 989, allow_offload=False)
    assert lowered.layout == default.layout or lowered.step.total >= default.step.total
    same = [r for r in search_layouts(w, slower, 989, allow_offload=False)[0] if r.layout == default.layout]
    assert same[0].step.compute == pytest.approx(default.step.compute * MAX_COMPUTE_EFFICIENCY / 0.5)
