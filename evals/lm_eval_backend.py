"""lm-evaluation-harness model type `llm_train`: any lm-eval task on our checkpoints, no conversion.

    python -m evals.lm_eval_cli run --model llm_train \\
        --model_args checkpoint=RUN_DIR_OR_CKPT,tokenizer=TOKENIZER_DIR --tasks ...

lm-eval 0.4 finds models only in its own registry and has no plugin entry point for them, so the
model is registered when this module is imported; `evals.lm_eval_cli` imports it and then runs lm-eval's
own command line. In Python: `import evals.lm_eval_backend` before `lm_eval.simple_evaluate(model="llm_train")`.

All three request types go through `evals.scorer.Scorer` and `evals.tokenizer.encode_pair`, the code
behind `llm-train eval`, so the harness and our own evaluation see the same log-likelihoods.
model_args: checkpoint (run dir: latest ready step, or with step=N; or a checkpoint/HF export dir),
tokenizer (default: the run's data.tokenizer, else the checkpoint dir), device, dtype, batch_size,
max_length, stride (rolling window advance), bos_policy (eod|bos), max_gen_toks.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import lm_eval.models  # noqa: F401  (lm-eval's own models first: get_model imports them only into an empty registry)
import torch
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model
from tqdm import tqdm

from evals import checkpoints as ck
from evals.errors import EvalError
from evals.scorer import Scorer, rolling_pairs
from evals.tokenizer import check_vocab, encode_pair, load_eval_tokenizer

log = logging.getLogger(__name__)


def resolve_checkpoint(checkpoint: str, step: int | None) -> tuple[ck.CheckpointRef, str | None]:
    """(checkpoint, the run's tokenizer dir if known) for a run dir or a checkpoint dir."""
    path = Path(checkpoint)
    if ck.is_run_dir(path):
        from evals.settings import load_run_config

        step = step if step is not None else ck.latest_ready(path)
        if step is None:
            raise EvalError(f"{path}: no ready checkpoint")
        cfg = load_run_config(path)
        return ck.ref_for_step(path, step), cfg.data.tokenizer if cfg else None
    return ck.ref_for_path(path), None


@register_model("llm_train")
class LLMTrainLM(LM):
    def __init__(
        self,
        checkpoint: str,
        tokenizer: str | None = None,
        step: int | None = None,
        device: str | None = None,
        dtype: str = "float32",
        batch_size: int | str | None = "auto",
        max_length: int | None = None,
        stride: int | None = None,
        bos_policy: str = "eod",
        max_gen_toks: int = 256,
        **ignored,
    ):
        super().__init__()
        from evals.loading import load_model

        if ignored:
            log.info("llm_train model: ignoring lm-eval arguments %s", sorted(ignored))
        ref, run_tokenizer = resolve_checkpoint(str(checkpoint), int(step) if step is not None else None)
        if device and device.startswith("cuda") and not torch.cuda.is_available():
            # lm-eval's command line defaults to cuda:0; on a CPU node that means "the device there is".
            log.warning("llm_train model: %s asked for but CUDA is not available; using the CPU", device)
            device = "cpu"
        tok_dir = tokenizer or run_tokenizer or str(ref.path)
        self.tok = load_eval_tokenizer(tok_dir, bos_policy)
        self.model, info = load_model(ref.path, device or "auto", dtype)
        self._device = next(self.model.parameters()).device
        length = min(int(max_length or info["max_seq_len"]), info["max_seq_len"])
        self.scorer = Scorer(
            self.model,
            self.tok.prefix_id,
            length,
            _batch_size(batch_size),
            vocab_size=check_vocab(self.tok, info["vocab_size"]),
        )
        self.stride = int(stride) if stride else length // 2
        self.max_gen_toks = int(max_gen_toks)
        self.checkpoint = ref

    @property
    def tokenizer_name(self) -> str:
        return str(self.tok.path)

    def loglikelihood(self, requests, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        pairs = [encode_pair(self.tok, *req.args) for req in requests]
        results = self.scorer.loglikelihood_tokens(pairs, desc="loglikelihood")
        for req, result in zip(requests, results, strict=True):
            self.cache_hook.add_partial("loglikelihood", req.args, result)
        return results

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        pairs, owners = [], []
        for i, req in enumerate(requests):
            ids = self.tok.encode(req.args[0])
            windows = rolling_pairs(self.tok.prefix_id, ids, self.scorer.max_length, self.stride)
            pairs.extend(windows)
            owners.extend([i] * len(windows))
        sums = [[] for _ in requests]
        for owner, (ll, _) in zip(
            owners, self.scorer.loglikelihood_tokens(pairs, desc="rolling"), strict=True
        ):
            sums[owner].append(ll)
        out = [math.fsum(s) for s in sums]
        for req, value in zip(requests, out, strict=True):
            self.cache_hook.add_partial("loglikelihood_rolling", req.args, value)
        return out

    @torch.no_grad()
    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        from lm_eval.models.utils import handle_stop_sequences

        eos_text = self.tok.hf.decode([self.tok.eod_id])
        out = []
        for req in tqdm(requests, desc="generate", disable=disable_tqdm or len(requests) < 2, leave=False):
            context, gen_kwargs = req.args
            gen_kwargs = dict(gen_kwargs or {})
            until = handle_stop_sequences(gen_kwargs.pop("until", None), eos=eos_text)
            max_new = int(gen_kwargs.pop("max_gen_toks", self.max_gen_toks))
            text = self._greedy(context, until, max_new)
            self.cache_hook.add_partial("generate_until", req.args, text)
            out.append(text)
        return out

    def _greedy(self, context: str, until: list[str], max_new: int) -> str:
        """Greedy decoding with the KV cache, one request at a time, cut at the first stop sequence."""
        budget = max(1, self.scorer.max_length - max_new)
        ids = [self.tok.prefix_id, *self.tok.encode(context)][-budget:]
        x = torch.tensor([ids], device=self._device)
        past, new = None, []
        for _ in range(max_new):
            out = self.model(input_ids=x, past_key_values=past, use_cache=True)
            past = out.past_key_values
            token = int(out.logits[0, -1, : self.scorer.vocab_size].argmax())
            if token == self.tok.eod_id:
                break
            new.append(token)
            text = self.tok.decode(new)
            if any(stop and stop in text for stop in until):
                break
            x = torch.tensor([[token]], device=self._device)
        text = self.tok.decode(new)
        for stop in until:
            if stop:
                text = text.split(stop)[0]
        return text


def _batch_size(value) -> int | str:
    """lm-eval passes `--batch_size` as int or 'auto' / 'auto:N'; ours auto-fits either way."""
    if value is None or str(value).startswith("auto"):
        return "auto"
    return int(value)
