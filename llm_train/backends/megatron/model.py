"""The project's model spec -> megatron-core `TransformerConfig` and `GPTModel` chunks.

One Llama-style decoder: RMSNorm, SwiGLU, RoPE (non-interleaved, the same rotation as HF Llama),
grouped-query attention, no biases, optional tied embeddings. Transformer Engine layers are used
when TE is importable and CUDA is present (fused norms, sequence parallel, context parallel);
otherwise megatron's local layers with the project's RMSNorm (which supports sequence parallel) and
torch's fused SDPA as core attention (`attention.SDPAttention`).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from megatron.core import parallel_state
from megatron.core.models.gpt import GPTModel
from megatron.core.models.gpt.gpt_layer_specs import get_gpt_layer_local_spec
from megatron.core.transformer.module import Float16Module
from megatron.core.transformer.spec_utils import ModuleSpec
from megatron.core.transformer.transformer_block import TransformerBlockSubmodules, get_num_layers_to_build
from megatron.core.transformer.transformer_config import TransformerConfig

from llm_train.backends.megatron.attention import SDPAttention
from llm_train.backends.megatron.norm import RMSNorm
from llm_train.config.schema import ExperimentConfig
from llm_train.model.dtypes import PRECISIONS
from llm_train.model.spec import require_buildable
from llm_train.parallel import ParallelLayout
from llm_train.parallel.runtime import have_transformer_engine


def transformer_config(
    cfg: ExperimentConfig, layout: ParallelLayout, use_te: bool | None = None
) -> TransformerConfig:
    m, t, p = cfg.model, cfg.train, cfg.parallel
    require_buildable(m)
    use_te = have_transformer_engine() if use_te is None else use_te
    on_cuda = torch.cuda.is_available()
    dtype = PRECISIONS[t.precision]
    recompute = {}
    if p.recompute == "selective":
        recompute = {"recompute_granularity": "selective"}
    elif p.recompute == "full":
        recompute = {
            "recompute_granularity": "full",
            "recompute_method": "uniform",
            "recompute_num_layers": 1,
        }
    return TransformerConfig(
        num_layers=m.num_layers,
        hidden_size=m.hidden_size,
        num_attention_heads=m.num_heads,
        num_query_groups=m.kv_heads,
        kv_channels=m.head_dim,
        ffn_hidden_size=m.ffn_hidden_size,
        normalization="RMSNorm",
        layernorm_epsilon=m.norm_eps,
        gated_linear_unit=True,
        activation_func=F.silu,
        add_bias_linear=False,
        add_qkv_bias=False,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        init_method_std=m.init_std,
        tensor_model_parallel_size=layout.tp,
        pipeline_model_parallel_size=layout.pp,
        virtual_pipeline_model_parallel_size=layout.vpp,
        context_parallel_size=layout.cp,
        sequence_parallel=layout.sp,
        params_dtype=dtype,
        pipeline_dtype=dtype,
        bf16=t.precision == "bf16",
        fp16=t.precision == "fp16",
        # The loss is summed per token and the gradients divided by the global token count
        # (finalize_model_grads), so gradient accumulation and DP give the exact global mean.
        calculate_per_token_loss=True,
        # CPU initialization builds each full weight and slices it, so TP=1 and TP=2 start from
        # the same weights; on GPU each rank initializes its own shard in place.
        use_cpu_initialization=not on_cuda,
        # Fused kernels exist only as CUDA/TE code; the unfused paths are numerically the same.
        # With TE these are Megatron-LM's defaults: fused SwiGLU, softmax, RoPE, and weight
        # gradients accumulated straight into DDP's fp32 main_grad buffers.
        bias_activation_fusion=use_te,
        masked_softmax_fusion=use_te,
        apply_rope_fusion=use_te,
        bias_dropout_fusion=use_te,
        gradient_accumulation_fusion=use_te,
        persist_layer_norm=False,
        cross_entropy_loss_fusion=False,
        # Freeing a stage's output right after sending it is safe with NCCL (stream-ordered), but
        # gloo's isend reads the memory from a background thread: keep outputs alive on CPU.
        deallocate_pipeline_outputs=on_cuda,
        # Interleaved 1F1B: separate send/recv calls overlapped with compute, as Megatron-LM does.
        # Batched p2p cannot tell activations from gradients when pp=2 (the previous and the
        # next stage are the same rank); `_p2p_ops` uses two groups for the two directions.
        overlap_p2p_comm=layout.vpp is not None,
        batch_p2p_comm=layout.vpp is None,
        **recompute,
    )


def _local_layer_spec() -> ModuleSpec:
    """megatron's local layer with our RMSNorm (sequence parallel) and fused SDPA core attention."""
    spec = get_gpt_layer_local_spec(normalization="RMSNorm")
    norm = ModuleSpec(module=RMSNorm)
    attention = spec.submodules.self_attention
    attention = dataclasses.replace(
        attention, submodules=dataclasses.replace(attention.submodules, core_attention=SDPAttention)
    )
    submodules = dataclasses.replace(
        spec.submodules, input_layernorm=norm, pre_mlp_layernorm=norm, self_attention=attention
    )
    return dataclasses.replace(spec, submodules=submodules)


def block_spec(config: TransformerConfig, use_te: bool, vp_stage: int | None) -> TransformerBlockSubmodules:
    """Layer specs for the layers this rank (and virtual stage) builds, plus the final norm."""
    if use_te:
        from megatron.core.extensions.transformer_engine import TENorm
        from megatron.core.models.gpt.gpt_layer_specs import get_gpt_layer_with_transformer_engine_spec

        layer, final_norm = get_gpt_layer_with_transformer_engine_spec(), TENorm
    else:
        layer, final_norm = _local_layer_spec(), RMSNorm
    n = get_num_layers_to_build(config, vp_stage=vp_stage)
    return TransformerBlockSubmodules(layer_specs=[layer] * n, layer_norm=final_norm)


def build_gpt_chunks(cfg: ExperimentConfig, config: TransformerConfig, use_te: bool) -> list[torch.nn.Module]:
    """This rank's model chunks: one per virtual pipeline stage (one without interleaving).

    bf16/fp16 chunks are wrapped in megatron's Float16Module, which casts inputs and the final
    logits; the optimizer keeps fp32 master weights.
    """
    m = cfg.model
    vpp = config.virtual_pipeline_model_parallel_size
    chunks = []
    for stage in range(vpp or 1):
        vp_stage = stage if vpp else None
        model = GPTModel(
            config=config,
            transformer_layer_spec=block_spec(config, use_te, vp_stage),
            vocab_size=m.padded_vocab_size,
            max_sequence_length=m.max_seq_len,
            pre_process=parallel_state.is_pipeline_first_stage(ignore_virtual=False, vp_stage=vp_stage),
            post_process=parallel_state.is_pipeline_last_stage(ignore_virtual=False, vp_stage=vp_stage),
            parallel_output=True,
            share_embeddings_and_output_weights=m.tie_embeddings,
            position_embedding_type="rope",
            rotary_base=m.rope_theta,
            vp_stage=vp_stage,
        )
        if config.bf16 or config.fp16:
            model = Float16Module(config, model)
        chunks.append(model)
    return chunks
