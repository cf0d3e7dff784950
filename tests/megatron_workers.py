"""Worker processes for the megatron backend tests: gloo on CPU, with the test-only CUDA shim.

Each test spawns N processes running one `job_*` function; every rank writes its result as JSON
to `<out>/rank<N>.json` and the test compares them.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path

import torch

from llm_train.launch.ports import free_port

TINY_MODEL = {
    "name": "tiny-test",
    "vocab_size": 250,
    "make_vocab_size_divisible_by": 64,
    "hidden_size": 64,
    "num_layers": 4,
    "num_heads": 4,
    "num_kv_heads": 2,
    "ffn_hidden_size": 160,
    "max_seq_len": 64,
    "tie_embeddings": False,
    "init_std": 0.02,
}


def make_config(parallel: dict | None = None, model: dict | None = None, train: dict | None = None):
    from llm_train.config.schema import ExperimentConfig

    return ExperimentConfig.model_validate(
        {
            "name": "megatron-test",
            "model": {**TINY_MODEL, **(model or {})},
            "train": {
                "steps": 4,
                "seq_length": 32,
                "global_batch_size": 8,
                "micro_batch_size": 2,
                "precision": "fp32",
                "lr": 1e-3,
                "min_lr": 1e-4,
                "warmup_steps": 1,
                **(train or {}),
            },
            "parallel": {"backend": "megatron", **(parallel or {})},
        }
    )


def global_batches(cfg, steps: int, seed: int = 0) -> list[list[dict]]:
    """Fixed random token batches: per step, the global batch as micro batches of micro_batch_size."""
    t, vocab = cfg.train, cfg.model.vocab_size
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(steps):
        data = torch.randint(0, vocab, (t.global_batch_size, t.seq_length + 1), generator=gen)
        mbs = []
        for i in range(0, t.global_batch_size, t.micro_batch_size):
            chunk = data[i : i + t.micro_batch_size]
            mbs.append(
                {
                    "tokens": chunk[:, :-1].contiguous(),
                    "labels": chunk[:, 1:].contiguous(),
                    "loss_mask": torch.ones(chunk.shape[0], t.seq_length),
                    "position_ids": torch.arange(t.seq_length).expand(chunk.shape[0], -1).contiguous(),
                }
            )
        out.append(mbs)
    return out


def rank_slice(mbs: list[dict], dp_rank: int, dp_size: int) -> list[dict]:
    """This DP rank's micro batches (contiguous split of the global batch)."""
    per = len(mbs) // dp_size
    return mbs[dp_rank * per : (dp_rank + 1) * per]


def _entry(rank: int, world: int, port: int, job: str, kwargs: dict, out: str) -> None:
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        OMP_NUM_THREADS="1",
    )
    torch.set_num_threads(1)
    from tests import megatron_cpu_shim

    megatron_cpu_shim.apply()
    try:
        result = globals()[job](**kwargs)
    except Exception:
        Path(out, f"rank{rank}.error").write_text(traceback.format_exc())
        raise
    Path(out, f"rank{rank}.json").write_text(json.dumps(result))


def spawn(job: str, world: int, out: Path, **kwargs) -> list[dict]:
    """Run `job(**kwargs)` on `world` gloo processes; returns each rank's result."""
    import torch.multiprocessing as mp

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        mp.spawn(_entry, args=(world, free_port(), job, kwargs, str(out)), nprocs=world, join=True)
    except Exception as exc:
        errors = "\n".join(p.read_text() for p in sorted(out.glob("rank*.error")))
        raise AssertionError(f"{job} failed:\n{errors}") from exc
    return [json.loads(Path(out, f"rank{r}.json").read_text()) for r in range(world)]


def _backend(parallel: dict, model: dict | None = None, train: dict | None = None):
    from llm_train.backends.megatron_backend import MegatronBackend
    from llm_train.launch.dist_env import detect

    cfg = make_config(parallel, model, train)
    backend = MegatronBackend(cfg, detect())
    backend.build()
    return cfg, backend


def train_step(backend, cfg, micro_batches: list[dict], step: int):
    """One step as the trainer runs it: this rank's slice, the LR of optimizer step `step`."""
    from llm_train.backends import run_step
    from llm_train.trainer.lr_schedule import lr_at, total_steps

    mbs = rank_slice(micro_batches, backend.dp_rank, backend.dp_size)
    return run_step(backend, mbs, lr_at(step, cfg.train, total_steps(cfg.train)))


def job_train(
    parallel: dict,
    steps: int = 2,
    model: dict | None = None,
    train: dict | None = None,
    load: str | None = None,
    save: str | None = None,
    start_step: int = 0,
) -> dict:
    """Optionally load a checkpoint, then eval loss on a fixed batch and `steps` train steps
    (optimizer steps `start_step`, ... of the schedule)."""
    cfg, backend = _backend(parallel, model, train)
    if load:
        backend.load(Path(load))
    batches = global_batches(cfg, steps + 1)
    dp_rank, dp_size = backend.dp_rank, backend.dp_size
    eval_sum, eval_tokens = backend.eval_loss(rank_slice(batches[0], dp_rank, dp_size))
    results = []
    for i, mbs in enumerate(batches[1:]):
        r = train_step(backend, cfg, mbs, start_step + i)
        results.append({"loss": r.loss, "grad_norm": r.grad_norm, "lr": r.lr, "skipped": r.skipped})
    if save:
        backend.save(Path(save))
    out = {
        "eval_loss": eval_sum / eval_tokens,
        "eval_tokens": eval_tokens,
        "steps": results,
        "num_params": backend.num_params(),
        "dp": [dp_rank, dp_size],
    }
    backend.close()
    return out


def job_logits(parallel: dict, load: str, out_file: str, model: dict | None = None) -> dict:
    """Full-vocabulary logits of a loaded checkpoint on a fixed input (any TP, PP=1)."""
    from megatron.core.tensor_parallel import gather_from_tensor_model_parallel_region

    cfg, backend = _backend(parallel, model)
    backend.load(Path(load))
    gen = torch.Generator().manual_seed(7)
    tokens = torch.randint(0, cfg.model.vocab_size, (2, cfg.train.seq_length), generator=gen)
    position_ids = torch.arange(tokens.shape[1]).expand_as(tokens)
    model_chunk = backend.gpt_chunks[0]
    model_chunk.eval()
    with torch.no_grad():
        logits = model_chunk(input_ids=tokens, position_ids=position_ids, attention_mask=None)
        logits = gather_from_tensor_model_parallel_region(logits)  # vocab-parallel -> full vocab
    if torch.distributed.get_rank() == 0:
        torch.save({"tokens": tokens, "logits": logits.float()}, out_file)
    backend.close()
    return {"shape": list(logits.shape)}


class _StepCounter:
    """A trainer-state stand-in for the checkpoint manager (saved in trainer_state.json)."""

    def __init__(self):
        self.step = 0

    def state_dict(self) -> dict:
        return {"step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.step = state["step"]


def _weights_digest(backend) -> str:
    """This rank's model shards, bit for bit."""
    import hashlib

    h = hashlib.sha256()
    for chunk in backend.gpt_chunks:
        for name, param in sorted(chunk.named_parameters()):
            h.update(name.encode())
            h.update(param.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def _async_backend(parallel: dict):
    from llm_train.backends.megatron_backend import MegatronBackend
    from llm_train.launch.dist_env import detect

    cfg = make_config(parallel)
    cfg = cfg.model_copy(update={"checkpoint": cfg.checkpoint.model_copy(update={"async_save": True})})
    backend = MegatronBackend(cfg, detect())
    backend.build()
    return cfg, backend


def job_async_saves(parallel: dict, run_dir: str, sync_dir: str) -> dict:
    """Asynchronous saves through the CheckpointManager, recording what is visible before and
    after each finalize; then a synchronous save of the last saved state, and a save abandoned
    in flight (the error path of `close`)."""
    from llm_train.backends.megatron import checkpoint as megatron_checkpoint
    from llm_train.checkpoint.manager import CheckpointManager
    from llm_train.run_dir import RunDir

    cfg, backend = _async_backend(parallel)
    counter, published = _StepCounter(), []
    manager = CheckpointManager(
        Path(run_dir),
        cfg.checkpoint,
        backend,
        backend.dist,
        {"counter": counter},
        on_saved=lambda step, path: published.append(step),
    )
    ckpt = Path(run_dir) / "checkpoints"

    def visible() -> dict:
        latest = ckpt / "latest"
        return {
            "latest": latest.read_text().strip() if latest.is_file() else None,
            "ready": RunDir(run_dir).ready_steps(),
            "dirs": sorted(p.name for p in ckpt.iterdir() if p.is_dir()),
            "published": list(published),
        }

    batches = global_batches(cfg, 5)

    def train(i: int) -> None:
        train_step(backend, cfg, batches[i], counter.step)
        counter.step += 1

    seen, digests = {}, {}
    train(0)
    manager.save(1)
    seen["save1"] = visible()
    manager.finalize(blocking=True)
    seen["final1"] = visible()

    train(1)
    manager.save(2)
    seen["save2"] = visible()
    # megatron writes metadata.json in its own finalize step: not run yet either.
    seen["save2_metadata"] = (ckpt / ".step-2.tmp" / "metadata.json").exists()
    digests[2] = _weights_digest(backend)
    train(2)  # updates the weights in place while step 2 may still be being written
    polls = 0
    while manager.finalize(blocking=False) is None:  # collective: every rank polls equally often
        polls += 1
        time.sleep(0.05)
        if polls > 2400:
            raise TimeoutError("asynchronous save of step 2 never finished")
    seen["final2"] = visible()
    seen["polls2"] = polls

    manager.save(3)
    manager.close()
    seen["final3"] = visible()
    digests[3] = _weights_digest(backend)
    megatron_checkpoint.save(Path(sync_dir), backend.gpt_chunks, backend.optimizer, cfg.model, {})

    train(3)
    manager.save(4)
    seen["save4"] = visible()
    backend.close()  # with step 4 in flight: abandoned, never published
    seen["abandoned4"] = visible()
    return {"seen": seen, "digests": digests, "pending_after_close": backend.async_saves.pending}


def job_load_compare(parallel: dict, run_dir: str, sync_dir: str) -> dict:
    """Load the published asynchronous checkpoints and the synchronous one; for each, the weights
    digest and the losses of the next two steps (the second depends on the optimizer state)."""
    from llm_train.checkpoint.manager import CheckpointManager

    cfg, backend = _async_backend(parallel)
    counter = _StepCounter()
    manager = CheckpointManager(Path(run_dir), cfg.checkpoint, backend, backend.dist, {"counter": counter})
    batches = global_batches(cfg, 6)

    def probe() -> dict:
        digest = _weights_digest(backend)
        losses = []
        for i, mbs in enumerate(batches[4:6]):
            r = train_step(backend, cfg, mbs, counter.step + i)
            losses.append([r.loss, r.grad_norm, r.lr])
        return {"digest": digest, "losses": losses, "counter": counter.step}

    out = {"latest": manager.latest_step()}
    manager.load(step=2)
    out["async2"] = probe()
    manager.load()  # latest
    out["async3"] = probe()
    counter.step = 3  # a bare backend.load restores no trainer state: the step (and LR) is the caller's
    backend.load(Path(sync_dir))
    out["sync3"] = probe()
    backend.close()
    return out


def job_attention_parity() -> dict:
    """SDPAttention against megatron's own DotProductAttention: outputs and input gradients, GQA."""
    from megatron.core import parallel_state
    from megatron.core.transformer.dot_product_attention import DotProductAttention
    from megatron.core.transformer.enums import AttnMaskType

    from llm_train.backends.megatron.attention import SDPAttention
    from llm_train.backends.megatron.model import transformer_config
    from llm_train.backends.megatron.parallel import seed
    from llm_train.parallel import ParallelLayout

    torch.distributed.init_process_group("gloo", rank=0, world_size=1)
    parallel_state.initialize_model_parallel()
    cfg = make_config({})
    seed(cfg.train.seed)  # megatron's attention enters the model-parallel RNG tracker
    config = transformer_config(cfg, ParallelLayout(dp=1), use_te=False)
    gen = torch.Generator().manual_seed(3)
    s, b, heads, groups, d = 16, 2, cfg.model.num_heads, cfg.model.kv_heads, cfg.model.head_dim
    inputs = [torch.randn(s, b, n, d, generator=gen) for n in (heads, groups, groups)]
    out = {}
    for name, cls in (("megatron", DotProductAttention), ("sdpa", SDPAttention)):
        module = cls(config, layer_number=1, attn_mask_type=AttnMaskType.causal, attention_type="self")
        q, k, v = (t.clone().requires_grad_() for t in inputs)
        y = module(q, k, v, attention_mask=None)
        y.square().sum().backward()
        out[name] = {
            "y": y.detach().flatten().tolist(),
            "grads": [t.grad.flatten().tolist() for t in (q, k, v)],
        }
    parallel_state.destroy_model_parallel()
    torch.distributed.destroy_process_group()
    return out
