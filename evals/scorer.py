"""The one log-likelihood scorer: multiple-choice tasks, bits-per-byte and the lm-eval backend all
call `Scorer.loglikelihood_tokens`, so their numbers agree by construction.

A request is (context ids, continuation ids). The model reads context + continuation, truncated on
the left to `max_length` + 1 tokens (the last one is only a target), and the continuation's
log-probabilities are summed. Only the rows of the continuation go through the output head: with a
large vocabulary the logits of a full window would dominate memory.

Long texts are scored with a sliding window (`rolling_pairs`): every token is predicted exactly once,
and after the first window each prediction sees at least `max_length - stride` tokens of context.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from tqdm import tqdm

from evals.batching import auto_batch_size, run_with_fallback

Request = tuple[Sequence[int], Sequence[int]]


def rolling_pairs(
    prefix_id: int, ids: Sequence[int], max_length: int, stride: int
) -> list[tuple[list[int], list[int]]]:
    """Split the prediction of `ids` (given the prefix token) into (context, continuation) windows."""
    full = [prefix_id, *ids]
    n = len(full)
    stride = max(1, min(stride, max_length))
    pairs, a = [], 1
    b = min(1 + max_length, n)
    while a < n:
        pairs.append((full[max(0, b - 1 - max_length) : a], full[a:b]))
        a, b = b, min(b + stride, n)
    return pairs


class Scorer:
    def __init__(
        self,
        model,
        prefix_id: int,
        max_length: int,
        batch_size: int | str = "auto",
        progress: bool = True,
        vocab_size: int | None = None,
    ):
        self.model = model
        # Logits past the real vocabulary (embedding padding) are left out of the softmax.
        self.vocab_size = vocab_size
        self.prefix_id = prefix_id
        self.max_length = int(max_length)
        self.device = next(model.parameters()).device
        self.progress = progress
        if batch_size == "auto":
            batch_size = auto_batch_size(model, self.max_length, self.device)
        self.batch_size = int(batch_size)

    @torch.no_grad()
    def loglikelihood_tokens(
        self, requests: Sequence[Request], desc: str = "scoring"
    ) -> list[tuple[float, bool]]:
        """(sum of log-probs of the continuation, whether greedy decoding would produce it) per request."""
        rows = []
        for index, (context, continuation) in enumerate(requests):
            if not continuation:
                raise ValueError(f"request {index}: empty continuation")
            context = list(context) or [self.prefix_id]
            # A continuation longer than the window keeps its last max_length tokens (as lm-eval's HFLM).
            cont = list(continuation)[-self.max_length :]
            whole = (context + cont)[-(self.max_length + 1) :]
            rows.append((index, whole[:-1], cont))
        # Longest first: the first batch shows at once whether memory suffices, and padding is minimal.
        rows.sort(key=lambda r: -len(r[1]))
        out: list[tuple[float, bool] | None] = [None] * len(rows)
        bar = tqdm(
            total=len(rows), desc=desc, unit="req", disable=not self.progress or len(rows) < 2, leave=False
        )

        def score(batch):
            for (index, _, _), result in zip(batch, self._forward(batch), strict=True):
                out[index] = result
            bar.update(len(batch))

        self.batch_size = run_with_fallback(rows, self.batch_size, score)
        bar.close()
        return out  # type: ignore[return-value]

    def _forward(self, batch) -> list[tuple[float, bool]]:
        width = max(len(inp) for _, inp, _ in batch)
        # Right padding: with causal attention the padded tail cannot change earlier positions.
        x = torch.full((len(batch), width), self.prefix_id, dtype=torch.long)
        for i, (_, inp, _) in enumerate(batch):
            x[i, : len(inp)] = torch.tensor(inp, dtype=torch.long)
        hidden = self.model.get_decoder()(input_ids=x.to(self.device)).last_hidden_state
        head = self.model.get_output_embeddings()
        results = []
        for i, (_, inp, cont) in enumerate(batch):
            k = len(cont)
            logits = head(hidden[i, len(inp) - k : len(inp)])[:, : self.vocab_size].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            target = torch.tensor(cont, dtype=torch.long, device=logprobs.device)
            total = logprobs.gather(1, target[:, None]).sum().double().item()
            greedy = bool((logprobs.argmax(-1) == target).all().item())
            results.append((total, greedy))
        return results

    def text_nll(self, ids: Sequence[int], stride: int | None = None) -> float:
        """Sum NLL (nats) of a token sequence conditioned on the prefix token, with a sliding window."""
        pairs = rolling_pairs(self.prefix_id, ids, self.max_length, stride or self.max_length // 2)
        return -math.fsum(ll for ll, _ in self.loglikelihood_tokens(pairs, desc="rolling"))
