"""Runs the trainer for tests/test_backend_contract.py on one backend and records every step.

    python tests/backend_contract_worker.py CONFIG RUN_DIR STOP_AT SPIKE_AT OUT.json

STOP_AT > 0 ends the process right after the checkpoint of that step is published (a kill).
"""

import hashlib
import json
import multiprocessing
import os
import sys
from pathlib import Path

import torch

from llm_train.config import load_config
from llm_train.launch.dist_env import detect
from llm_train.launch.ports import free_port
from llm_train.run_dir import RunDir
from llm_train.trainer.callbacks import Callback
from llm_train.trainer.trainer import Trainer


def model_params(backend):
    if backend.name == "deepspeed":
        return list(backend.engine.module.parameters())
    return [p for chunk in backend.gpt_chunks for p in chunk.parameters()]


def digest(tensors):
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()


def optimizer_state(backend):
    opt = backend.optimizer if backend.name == "deepspeed" else backend.optimizer.optimizer
    return digest(v for st in opt.state.values() for v in st.values() if torch.is_tensor(v) and v.ndim)


class Probe(Callback):
    """Plants a loss spike (random labels) in step `spike_at`; records what each step did."""

    name = "probe"

    def __init__(self, stop_at: int, spike_at: int, out: str):
        self.stop_at, self.spike_at, self.out = stop_at, spike_at, out
        self.rows = []

    def pre_step(self, trainer, step):
        self.before = (digest(model_params(trainer.backend)), optimizer_state(trainer.backend))
        if step + 1 == self.spike_at:
            batches, real = trainer.batches, trainer.batches.next_step

            def spiked():
                mbs = real()
                g = torch.Generator().manual_seed(0)
                for mb in mbs:
                    mb["labels"] = torch.randint(0, 300, mb["labels"].shape, generator=g)
                batches.next_step = real
                return mbs

            batches.next_step = spiked

    def post_step(self, trainer, step, result, metrics):
        after = (digest(model_params(trainer.backend)), optimizer_state(trainer.backend))
        self.rows.append(
            {
                "step": step,
                "loss": result.loss,
                "lr": result.lr,
                "skipped": result.skipped,
                "applied_lr": max(g["lr"] for g in trainer.backend.optimizer.param_groups),
                "weights_unchanged": after[0] == self.before[0],
                "optimizer_unchanged": after[1] == self.before[1],
            }
        )

    def post_checkpoint_saved(self, trainer, step, path):
        if step == self.stop_at:  # a job killed right after this checkpoint was published
            Path(self.out).write_text(json.dumps(self.rows))
            for child in multiprocessing.active_children():  # megatron's checkpoint-writer helper
                child.kill()
            os._exit(0)


def main(config, run_dir, stop_at, spike_at, out):
    os.environ["MASTER_PORT"] = str(free_port())
    resolved = load_config(config)
    RunDir(run_dir).prepare(resolved.yaml, resolved.sha256)
    probe = Probe(stop_at, spike_at, out)
    Trainer(resolved, run_dir, detect(), callbacks=[probe]).fit()
    Path(out).write_text(json.dumps(probe.rows))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
