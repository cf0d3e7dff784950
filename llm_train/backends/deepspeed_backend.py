"""The DeepSpeed ZeRO backend: HF Llama from our spec, wrapped by `deepspeed.initialize`."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

from llm_train import storage
from llm_train.backends import deepspeed_universal as universal
from llm_train.backends.base import MicroBatch, SaveState, TrainBackend, Update
from llm_train.backends.deepspeed_config import deepspeed_config
from llm_train.backends.hf_llama import build_llama, hf_state_dict_for_safetensors, optimizer_param_groups
from llm_train.config.schema import ExperimentConfig
from llm_train.launch.dist_env import DistEnv
from llm_train.launch.ports import free_port
from llm_train.model.dtypes import PRECISIONS
from llm_train.parallel import resolve_layout
from llm_train.utils.atomic import atomic_write_json

log = logging.getLogger(__name__)
DS_TAG = "deepspeed"


class SkippableAdamW(torch.optim.AdamW):
    """torch AdamW whose `step` can be turned into a no-op for one optimizer step.

    DeepSpeed has no "skip this update" call for fp32/bf16; skipping inside the innermost
    optimizer leaves weights, moments and AdamW's step count untouched in every ZeRO stage.
    Non-finite gradients skip too, as a safety net behind the loss check.
    """

    skip_next = False
    skipped = False

    @torch.no_grad()
    def step(self, closure=None):
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        finite = all(bool(torch.isfinite(g).all()) for g in grads)
        if self.skip_next or not finite:
            self.skipped = True
            return None
        return super().step(closure)


def token_nll(model, batch: MicroBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed next-token NLL (fp32) over unmasked labels, and the number of those labels."""
    logits = model(input_ids=batch["tokens"], position_ids=batch["position_ids"]).logits
    nll = F.cross_entropy(logits.float().flatten(0, 1), batch["labels"].flatten(), reduction="none")
    mask = batch["loss_mask"].flatten().float()
    return (nll * mask).sum(), mask.sum()


class DeepSpeedBackend(TrainBackend):
    name = "deepspeed"

    def __init__(self, cfg: ExperimentConfig, dist: DistEnv):
        super().__init__(cfg, dist)
        self.layout = resolve_layout(cfg, dist.world_size)

    def build(self) -> None:
        import deepspeed
        import deepspeed.ops

        cfg = self.cfg
        # The shared-memory comm op serves inference all-reduce only, and building it is a ~95 s
        # C++ compile on first use: mark it unavailable so training uses plain gloo/nccl.
        deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
        # DeepSpeed still calls torch collectives that torch 2.13 deprecates, on every step.
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.distributed")
        self._init_distributed(deepspeed)
        self.device = torch.device(f"cuda:{self.dist.local_rank}" if torch.cuda.is_available() else "cpu")
        dtype = PRECISIONS[cfg.train.precision]
        model = build_llama(cfg.model, seed=cfg.train.seed)
        if cfg.parallel.recompute == "full":
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        groups = optimizer_param_groups(model, cfg.train.weight_decay, cfg.model.tie_embeddings)
        t = cfg.train
        # The LR is set before every update by `optimizer_step` (the trainer owns the schedule).
        self.optimizer = SkippableAdamW(groups, lr=t.lr, betas=(t.adam_beta1, t.adam_beta2), eps=t.adam_eps)
        self.ds_config = deepspeed_config(cfg, self.layout)
        self.engine, _, _, _ = deepspeed.initialize(
            model=model, optimizer=self.optimizer, config=self.ds_config, dist_init_required=False
        )
        self.grad_accum = self.ds_config["gradient_accumulation_steps"]
        log.info(
            "deepspeed: ZeRO-%d %s, %d params, grad accum %d, dp %d",
            cfg.parallel.zero_stage,
            dtype,
            self.num_params(),
            self.grad_accum,
            self.dp_size,
        )

    def _init_distributed(self, deepspeed) -> None:
        env = self.dist.torch_env()
        if not self.dist.is_distributed:
            env["MASTER_PORT"] = str(free_port())  # nobody to meet: avoid clashing with other jobs
        os.environ.update(env)
        backend = self.cfg.parallel.dist_backend
        if backend == "auto":
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(self.dist.local_rank)
        deepspeed.init_distributed(dist_backend=backend, auto_mpi_discovery=False, verbose=False)

    @property
    def dp_rank(self) -> int:
        return self.dist.rank

    @property
    def dp_size(self) -> int:
        return self.dist.world_size

    def _to_device(self, batch: MicroBatch) -> MicroBatch:
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def forward_backward(self, micro_batches: list[MicroBatch]) -> float:
        if len(micro_batches) != self.grad_accum:
            raise ValueError(f"expected {self.grad_accum} micro batches per rank, got {len(micro_batches)}")
        engine = self.engine
        engine.train()
        stats = torch.zeros(2, dtype=torch.float64)
        for i, batch in enumerate(micro_batches):
            with self.forward_clock:
                nll, count = token_nll(engine, self._to_device(batch))
            # Mean over this micro batch; DeepSpeed divides by the accumulation steps itself.
            mean = nll / count.clamp(min=1)
            engine.backward(mean)
            stats += torch.tensor([mean.item(), 1.0], dtype=torch.float64)
            if i < len(micro_batches) - 1:
                engine.step()  # not a boundary: DeepSpeed only advances its micro-step counter
        torch.distributed.all_reduce(stats)
        return (stats[0] / stats[1]).item()

    def optimizer_step(self, lr: float, apply: bool) -> Update:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        engine = self.engine
        grad_norm = self._stage0_grad_norm()
        self.optimizer.skip_next, self.optimizer.skipped = not apply, False
        ds_skipped = engine.skipped_steps
        engine.step()  # the boundary: clip, update (or not), clear the gradients
        # Skipped by us, or by DeepSpeed itself (ZeRO skips on non-finite gradients before our optimizer runs).
        skipped = not apply or self.optimizer.skipped or engine.skipped_steps > ds_skipped
        flag = torch.tensor([float(skipped)])
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        if grad_norm is None:
            grad_norm = engine.get_global_grad_norm()
        return Update(
            grad_norm=float(grad_norm) if grad_norm is not None else float("nan"),
            applied=not bool(flag.item()),
        )

    def _stage0_grad_norm(self) -> float | None:
        """Without ZeRO DeepSpeed clips but does not keep the norm; the grads are all-reduced here."""
        if self.cfg.parallel.zero_stage != 0:
            return None
        grads = [p.grad for p in self.engine.module.parameters() if p.grad is not None]
        return float(torch.nn.utils.get_total_norm(grads)) if grads else 0.0

    @torch.no_grad()
    def eval_loss(self, micro_batches: list[MicroBatch]) -> tuple[float, int]:
        self.engine.eval()
        stats = torch.zeros(2, dtype=torch.float64)
        for batch in micro_batches:
            nll, count = token_nll(self.engine, self._to_device(batch))
            stats += torch.stack([nll.double().cpu(), count.double().cpu()])
        torch.distributed.all_reduce(stats)
        return stats[0].item(), int(stats[1].item())

    def save(self, directory: Path) -> SaveState:
        directory = Path(directory)
        self.engine.save_checkpoint(str(directory), tag=DS_TAG, save_latest=False)
        if self.cfg.parallel.zero_stage == 3:
            state = self.engine._zero3_consolidated_16bit_state_dict()  # collective: every rank calls it
        else:
            state = self.engine.module.state_dict()
        if self.dist.is_main:
            self._write_hf_weights(directory, state)
        return SaveState.COMPLETE

    def _write_hf_weights(self, directory: Path, state: dict) -> None:
        """model.safetensors + config.json (HF) + model_config.json (our spec): readable without DeepSpeed."""
        from safetensors.torch import save_file

        from llm_train.backends.hf_llama import llama_config

        tensors = hf_state_dict_for_safetensors(state, tied=self.cfg.model.tie_embeddings)
        save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
        storage.fix_mode(directory / "model.safetensors")  # safetensors writes 0600 whatever the umask
        llama_config(self.cfg.model).to_json_file(str(directory / "config.json"))
        atomic_write_json(directory / "model_config.json", self.cfg.model.model_dump(mode="json"))

    def load(self, directory: Path) -> None:
        """Same data-parallel size: DeepSpeed's own files. Another one: its universal form (converted
        once, by rank 0), which every ZeRO stage loads at any DP size, optimizer state included."""
        directory = Path(directory)
        saved = universal.saved_dp_size(directory / DS_TAG)
        tag = DS_TAG
        if saved is not None and saved != self.dp_size:
            if self.dist.is_main:
                universal.convert(directory, DS_TAG)
            torch.distributed.barrier()
            tag = universal.UNIVERSAL_TAG
            log.info("deepspeed: loading %s written at dp %d into dp %d", directory, saved, self.dp_size)
        config = self.engine._config
        config.load_universal_checkpoint = tag == universal.UNIVERSAL_TAG
        # DeepSpeed 0.19's ZeRO-3 universal load copies one group's weight decay onto every group
        # (the no-decay norms and embedding would decay) and gives every group one shared Adam step
        # tensor (torch's AdamW increments it once per group): both are put right after the load.
        weight_decay = [group["weight_decay"] for group in self.optimizer.param_groups]
        try:
            path, _ = self.engine.load_checkpoint(
                str(directory), tag=tag, load_optimizer_states=True, load_lr_scheduler_states=False
            )
        finally:
            config.load_universal_checkpoint = False
        for group, value in zip(self.optimizer.param_groups, weight_decay, strict=True):
            group["weight_decay"] = value
        for state in self.optimizer.state.values():
            if torch.is_tensor(state.get("step")):
                state["step"] = state["step"].clone()
        if path is None:
            raise FileNotFoundError(f"no DeepSpeed checkpoint under {directory}/{tag}")

    def num_params(self) -> int:
        params = self.engine.module.parameters()
        return sum(getattr(p, "ds_numel", p.numel()) for p in params)

    def close(self) -> None:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
