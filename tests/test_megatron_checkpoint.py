"""dist_checkpointing resharding: a checkpoint saved at TP=1 continues identically at other layouts.

After loading, the evaluation loss (model weights) and the next two training steps (weights,
Adam moments, all resharded; the LR is the trainer's schedule) must match a TP=1 continuation. The TP2 x PP2 run
saves again, and `llm-train export --to hf` of that checkpoint must give the megatron logits
(checked with transformers); HF -> megatron must round-trip into a TP=2 run.
"""

from __future__ import annotations

import json

import pytest
import torch

from llm_train.cli.export import main as export_main
from tests.megatron_workers import spawn

pytestmark = [pytest.mark.slow, pytest.mark.distributed]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("megatron-ckpt")
    spawn("job_train", 1, root / "train", parallel={}, steps=2, save=str(root / "tp1"))
    reference = spawn(
        "job_train", 1, root / "ref", parallel={}, steps=2, load=str(root / "tp1"), start_step=2
    )[0]
    return root, reference


def assert_same_continuation(run: dict, ref: dict, tol: float = 1e-5) -> None:
    assert run["eval_loss"] == pytest.approx(ref["eval_loss"], rel=tol)
    for got, want in zip(run["steps"], ref["steps"], strict=True):
        assert got["lr"] == pytest.approx(want["lr"])  # the trainer's schedule at the resumed step
        assert got["loss"] == pytest.approx(want["loss"], rel=tol)
        assert got["grad_norm"] == pytest.approx(want["grad_norm"], rel=tol)


def test_checkpoint_layout_files(saved):
    root, _ = saved
    files = {p.name for p in (root / "tp1").iterdir()}
    assert {"metadata.json", "common.pt", "model_config.json", "llm_train_backend.json"} <= files
    assert json.loads((root / "tp1" / "llm_train_backend.json").read_text())["layout"]["tp"] == 1


@pytest.mark.parametrize(
    ("world", "parallel"),
    [(2, {"tp": 2}), (2, {"pp": 2, "vpp": 2})],
    ids=["tp2", "pp2-vpp2"],
)
def test_load_tp1_checkpoint_at_other_layouts(saved, world, parallel, tmp_path):
    root, reference = saved
    for run in spawn(
        "job_train", world, tmp_path, parallel=parallel, steps=2, load=str(root / "tp1"), start_step=2
    ):
        assert_same_continuation(run, reference)


def test_tp2_pp2_reshard_then_export_to_hf(saved, tmp_path):
    from transformers import AutoTokenizer, LlamaForCausalLM

    root, reference = saved
    ckpt = tmp_path / "tp2pp2"
    runs = spawn(
        "job_train",
        4,
        tmp_path / "run",
        parallel={"tp": 2, "pp": 2},
        steps=2,
        load=str(root / "tp1"),
        save=str(ckpt),
        start_step=2,
    )
    for run in runs:
        assert_same_continuation(run, reference)

    # Logits of the TP2 x PP2 checkpoint, loaded back at TP1, as the megatron reference.
    spawn(
        "job_logits",
        1,
        tmp_path / "logits",
        parallel={},
        load=str(ckpt),
        out_file=str(tmp_path / "logits.pt"),
    )
    ref = torch.load(tmp_path / "logits.pt")

    tokenizer_dir = _tiny_tokenizer(tmp_path / "tokenizer")
    hf_dir = tmp_path / "hf"
    assert export_main(["--to", "hf", str(ckpt), str(hf_dir), "--tokenizer", str(tokenizer_dir)]) == 0
    hf = LlamaForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = hf(ref["tokens"]).logits
    vocab = hf.config.vocab_size
    assert logits.shape == (*ref["tokens"].shape, vocab)
    assert (logits - ref["logits"][..., :vocab]).abs().max().item() < 1e-4
    assert AutoTokenizer.from_pretrained(hf_dir)("hello world")["input_ids"]

    # HF -> megatron warm start: the model-only checkpoint loads at TP=2 and gives the same logits
    # (over the real vocabulary: padding rows are not part of the HF model).
    warm = tmp_path / "warm"
    assert export_main(["--to", "megatron", str(hf_dir), str(warm)]) == 0
    warm_logits = tmp_path / "warm-logits.pt"
    spawn(
        "job_logits", 2, tmp_path / "warm-run", parallel={"tp": 2}, load=str(warm), out_file=str(warm_logits)
    )
    got = torch.load(warm_logits)["logits"][..., :vocab]
    assert (got - ref["logits"][..., :vocab]).abs().max().item() < 1e-5


def _tiny_tokenizer(directory):
    from tokenizers import Tokenizer, models, pre_tokenizers

    directory.mkdir(parents=True)
    vocab = {"[UNK]": 0, "hello": 1, "world": 2}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(directory / "tokenizer.json"))
    return directory
