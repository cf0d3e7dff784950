"""A dataset too small for a part of data.split is refused up front (megatron-core would hang)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import yaml

from tests.helpers.tiny_packed import make_packed, train_cmd, train_env, write_experiment


def add_one_document_language(mixture_path, lang: str = "ga") -> None:
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    mixture = yaml.safe_load(mixture_path.read_text())
    prefix = mixture_path.parent / f"{lang}_text_document"
    builder = IndexedDatasetBuilder(str(prefix) + ".bin", dtype=np.uint16)
    ids = np.arange(1, 200, dtype=np.int64)
    builder.add_document(ids, [len(ids)])
    builder.finalize(str(prefix) + ".idx")
    mixture["datasets"].append(
        {"name": lang, "prefix": prefix.name, "weight": 0.1, "tokens": len(ids), "documents": 1, "lang": lang}
    )
    mixture_path.write_text(yaml.safe_dump(mixture))


@pytest.fixture(scope="module")
def mixture(tmp_path_factory):
    path = make_packed(tmp_path_factory.mktemp("packed"), docs_per_lang=40)
    add_one_document_language(path)
    return path


def run_train(cwd, config) -> subprocess.CompletedProcess:
    return subprocess.run(
        train_cmd(config, "--nproc", "1", "--run-id", "r"),
        env=train_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_split_without_validation_documents_still_trains(tmp_path, mixture):
    # "100,0,0" asks no validation split of anyone: the one-document dataset is fine.
    config = write_experiment(
        tmp_path,
        mixture,
        data={"mixture": str(mixture), "split": "100,0,0"},
        train={"steps": 2, "warmup_steps": 0},
        checkpoint={"every_steps": 100},
    )
    proc = run_train(tmp_path, config)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize(("split", "part"), [("95,5,0", "ga (valid)"), ("40,60,0", "ga (train)")])
def test_a_dataset_with_an_empty_split_part_is_refused(tmp_path, mixture, split, part):
    config_dir = tmp_path / "c"
    config_dir.mkdir()
    config = write_experiment(
        config_dir,
        mixture,
        data={"mixture": str(mixture), "split": split},
        train={"steps": 2, "warmup_steps": 0},
    )
    proc = run_train(tmp_path, config)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "data.split" in proc.stderr and part in proc.stderr
