"""Mixtures: weight resolution, mixture.yaml round trip, realized proportions in megatron's blend."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import yaml

from data_prep.mixture import resolve_to_file
from data_prep.mixture.resolve import resolve, water_fill
from data_prep.mixture.spec import MixtureSpec, load_spec
from llm_train.data.mixture import load_mixture
from llm_train.errors import ConfigError
from tests.test_pack_corpus import make_corpus, train_small_tokenizer


def stats(tokens: dict[str, int]) -> dict:
    return {
        "datasets": {
            n: {"tokens": t, "documents": t // 100, "lang": n, "source": None} for n, t in tokens.items()
        }
    }


def test_water_fill_respects_bounds_and_sums_to_one():
    w = water_fill([100.0, 10.0, 1.0, 0.1], [0.0, 0.0, 0.05, 0.05], [0.6, 1.0, 1.0, 1.0])
    assert sum(w) == pytest.approx(1.0)
    assert w[0] == pytest.approx(0.6) and w[2] >= 0.05 - 1e-9 and w[3] == pytest.approx(0.05)
    # the free weights keep their ratio
    assert w[1] / w[2] == pytest.approx(10.0, rel=1e-6) or w[2] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="floors"):
        water_fill([1, 1], [0.6, 0.6], [1, 1])
    with pytest.raises(ValueError, match="caps"):
        water_fill([1, 1], [0, 0], [0.3, 0.3])


def test_temperature_weights_follow_token_counts():
    spec = MixtureSpec(name="t", sampling={"alpha": 0.5})
    out, warnings = resolve(spec, stats({"de": 1_000_000, "mt": 10_000}), "spec.yaml", None)
    w = {r.name: r.weight for r in out}
    assert w["de"] / w["mt"] == pytest.approx((1_000_000 / 10_000) ** 0.5)
    assert warnings == []


def test_explicit_weights_floors_caps_and_epoch_limit():
    spec = MixtureSpec(
        name="t",
        sampling={"method": "explicit", "max_epochs": 2, "warn_epochs": 1.5},
        datasets=[{"name": "de", "weight": 3}, {"name": "el", "weight": 1}, {"name": "mt", "weight": 1}],
    )
    out, warnings = resolve(spec, stats({"de": 1_000_000, "el": 500_000, "mt": 50_000}), "s.yaml", 1_000_000)
    w = {r.name: r for r in out}
    # mt may repeat at most twice: 100k of 1M tokens; the rest is shared 3:1 by de and el
    assert w["mt"].weight == pytest.approx(0.1)
    assert w["de"].weight / w["el"].weight == pytest.approx(3.0)
    assert w["mt"].contribution_tokens == 100_000 and w["mt"].epochs == pytest.approx(2.0)
    assert any("mt" in m and "epochs" in m for m in warnings)  # 2 epochs > warn_epochs 1.5


def test_missing_dataset_warns_or_fails():
    spec = MixtureSpec(name="t", datasets=[{"name": "de"}, {"name": "ga"}])
    out, warnings = resolve(spec, stats({"de": 10}), "s.yaml", None)
    assert [r.name for r in out] == ["de"] and "ga" in warnings[0]
    with pytest.raises(ConfigError, match="datasets.ga"):
        resolve(spec.model_copy(update={"on_missing": "error"}), stats({"de": 10}), "s.yaml", None)


def test_bad_spec_names_file_and_key(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("name: x\nsampling: {alpha: 2, methd: temperature}\n")
    with pytest.raises(ConfigError) as err:
        load_spec(path)
    text = str(err.value)
    assert str(path) in text and "sampling.alpha" in text and "sampling.methd" in text


def test_shipped_mixtures_validate(configs_root):
    eu24 = load_spec(configs_root / "data/mixtures/eu24.yaml")
    assert len(eu24.datasets) == 24
    load_spec(configs_root / "data/mixtures/demo.yaml")


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    from data_prep.pack.packer import PackOptions, pack

    root = tmp_path_factory.mktemp("mix")
    make_corpus(root / "corpus", {"de": 120, "el": 80, "bg": 60}, files_per_lang=1)
    tok = train_small_tokenizer(root / "corpus", root / "tok")
    pack(root / "corpus", tok, root / "packed", PackOptions(workers=1))
    return root


def test_realized_blend_matches_requested_weights(packed, tmp_path):
    import torch.distributed as dist
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig

    from llm_train.data.tokenizer import PackedDataTokenizer

    spec = tmp_path / "spec.yaml"
    requested = {"de": 0.2, "el": 0.5, "bg": 0.3}
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "t",
                "sampling": {"method": "explicit"},
                "datasets": [{"name": n, "weight": w} for n, w in requested.items()],
            }
        )
    )
    path, mixture = resolve_to_file(
        spec, packed / "packed", budget_tokens=200_000, out_path=tmp_path / "mixture.yaml"
    )
    reloaded = load_mixture(path)
    assert reloaded.blend() == mixture.blend()
    assert reloaded.tokenizer == str((packed / "tok").resolve())
    prefixes, weights = mixture.blend()
    assert [p.rsplit("/", 1)[1] for p in prefixes] == [
        "de_text_document",
        "el_text_document",
        "bg_text_document",
    ]

    tokenizer = PackedDataTokenizer.from_dir(mixture.tokenizer)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/pg", rank=0, world_size=1)
    try:
        seq = 64
        samples = mixture.budget_tokens // seq
        config = GPTDatasetConfig(
            random_seed=1234,
            sequence_length=seq,
            blend=mixture.blend(),
            split="100,0,0",
            path_to_cache=str(tmp_path / "cache"),
            tokenizer=tokenizer,
            reset_position_ids=False,
            reset_attention_mask=False,
            eod_mask_loss=False,
        )
        train, _, _ = BlendedMegatronDatasetBuilder(GPTDataset, [samples, 0, 0], lambda: True, config).build()
        counts = collections.Counter(int(i) for i in train.dataset_index[:samples])
        realized = {prefixes[i].rsplit("/", 1)[1].split("_")[0]: c / samples for i, c in counts.items()}
        for name, weight in requested.items():
            assert abs(realized[name] - weight) < 0.01, (name, realized, requested)
        # a sample is real text of the right language, with EOD between documents
        item = train[int(np.argmax(train.dataset_index == 1))]
        text = tokenizer.detokenize(item["tokens"].tolist())
        assert any(ch in text for ch in "αβγδεζηθικλμνξοπρστυφχψω")
    finally:
        dist.destroy_process_group()
