"""The config contract: composition, overrides, env interpolation, validation errors, hashing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from llm_train.config import load_config
from llm_train.errors import ConfigError

DEMO = "experiments/demo-cpu.yaml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def tree(tmp_path: Path, configs_root: Path) -> Path:
    """A private configs/ root with the real model and cluster presets."""
    root = tmp_path / "configs"
    for group in ("model", "cluster", "train"):
        for src in (configs_root / group).glob("*.yaml"):
            write(root / group / src.name, src.read_text())
    return root


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> list[tuple[str, str | None, str]]:
    return [(p.file, p.key, p.message) for p in exc.value.problems]


def test_demo_resolves_with_override_and_stable_hash(configs_root: Path) -> None:
    a = load_config(configs_root / DEMO, ["train.lr=1e-3"])
    b = load_config(configs_root / DEMO, ["train.lr=1e-3"])
    c = load_config(configs_root / DEMO, ["train.lr=2e-3"])
    assert a.config.train.lr == pytest.approx(0.001)
    assert a.config.model.name == "tiny" and a.config.cluster.name == "local"
    assert a.sha256 == b.sha256 and a.yaml == b.yaml
    assert a.sha256 != c.sha256


def test_every_shipped_experiment_validates(configs_root: Path) -> None:
    for path in sorted((configs_root / "experiments").glob("*.yaml")):
        load_config(path)


def test_every_model_preset_loads_through_the_schema(configs_root: Path, tree: Path) -> None:
    for preset in sorted((configs_root / "model").glob("*.yaml")):
        exp = write(
            tree / "experiments" / "m.yaml",
            f"defaults: [{{model: {preset.stem}}}]\ntrain: {{steps: 1, warmup_steps: 0, seq_length: 128}}\n",
        )
        cfg = load_config(exp).config
        assert cfg.model.name == preset.stem


def test_later_defaults_win_and_self_last(tree: Path) -> None:
    write(tree / "train" / "a.yaml", "steps: 10\nlr: 0.1\nwarmup_steps: 0\n")
    write(tree / "train" / "b.yaml", "lr: 0.2\n")
    exp = write(
        tree / "experiments" / "x.yaml",
        """
        defaults: [{model: tiny}, train/a.yaml, train/b.yaml]
        train: {min_lr: 0.01, seq_length: 128}
        """,
    )
    resolved = load_config(exp)
    assert resolved.config.train.lr == 0.2 and resolved.config.train.steps == 10
    assert resolved.provenance["train.lr"].endswith("b.yaml")
    assert resolved.provenance["train.min_lr"].endswith("x.yaml")


def test_overrides_are_typed_by_schema(tree: Path) -> None:
    exp = write(
        tree / "experiments" / "x.yaml",
        "defaults: [{model: tiny}]\ntrain: {steps: 5, warmup_steps: 0, seq_length: 64}\n",
    )
    cfg = load_config(
        exp,
        [
            "train.grad_clip=0.5",
            "parallel.dp=2",
            "train.global_batch_size=16",
            "tracking.aim=false",
            "eval.languages=[de,fr]",
        ],
    ).config
    assert cfg.train.grad_clip == 0.5 and cfg.parallel.dp == 2
    assert cfg.tracking.aim is False and cfg.eval.languages == ["de", "fr"]


def test_unknown_key_names_file_key_and_suggestion(tree: Path) -> None:
    exp = write(tree / "experiments" / "x.yaml", "defaults: [{model: tiny}]\ntrain: {stepz: 5}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(exp)
    [(file, key, message)] = problems(exc)
    assert file == str(exp.resolve()) and key == "train.stepz"
    assert "unknown key" in message and "'steps'" in message


def test_unknown_override_key_is_blamed_on_command_line(tree: Path) -> None:
    exp = write(
        tree / "experiments" / "x.yaml",
        "defaults: [{model: tiny}]\ntrain: {steps: 5, warmup_steps: 0, seq_length: 64}\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_config(exp, ["parallel.tpp=2"])
    assert problems(exc)[0][:2] == ("<command line>", "parallel.tpp")


def test_wrong_type_names_value_and_expectation(tree: Path) -> None:
    exp = write(tree / "experiments" / "x.yaml", "train: {steps: many}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(exp)
    problem = exc.value.problems[0]
    assert problem.key == "train.steps" and problem.value == "many"
    assert "integer" in problem.message


def test_bad_literal_lists_choices(tree: Path) -> None:
    exp = write(tree / "experiments" / "x.yaml", "parallel: {backend: fsdp}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(exp)
    assert "'deepspeed' or 'megatron'" in exc.value.problems[0].message


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        (["train.global_batch_size=10"], "train.global_batch_size", "micro_batch_size x data-parallel size"),
        (["parallel.backend=megatron", "parallel.tp=3"], "parallel.tp", "divisor of model.num_heads"),
        (["parallel.backend=megatron", "parallel.pp=3"], "parallel.pp", "dividing model.num_layers"),
        (
            ["parallel.backend=megatron", "parallel.tp=2", "parallel.sp=true", "train.seq_length=255"],
            "train.seq_length",
            "with sequence parallel",
        ),
        (["parallel.tp=2"], "parallel.tp", "backend megatron"),
        (["train.tokens=1000"], "train.steps", "exactly one"),
        (["train.seq_length=4096"], "train.seq_length", "max_seq_len"),
        (["model.num_kv_heads=3"], "model.num_kv_heads", "divisor of model.num_heads"),
        (["parallel.offload_params=cpu"], "parallel.offload_params", "zero_stage is 3"),
    ],
)
def test_impossible_combinations(configs_root: Path, overrides: list[str], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(configs_root / DEMO, overrides)
    hits = [p for p in exc.value.problems if p.key == key]
    assert hits, exc.value
    assert fragment in hits[0].message


def test_env_interpolation_and_unset_variable(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exp = write(
        tree / "experiments" / "x.yaml",
        'defaults: [{model: tiny}]\nruns_dir: ${env:SCRATCH_T}/runs\ndata: {mixture: "${env:NOPE_T,fallback}/m.yaml"}\n'
        "train: {steps: 5, warmup_steps: 0, seq_length: 64}\n",
    )
    monkeypatch.setenv("SCRATCH_T", "/scratch/p1")
    cfg = load_config(exp).config
    assert cfg.runs_dir == "/scratch/p1/runs" and cfg.data.mixture == "fallback/m.yaml"
    monkeypatch.delenv("SCRATCH_T")
    with pytest.raises(ConfigError) as exc:
        load_config(exp)
    problem = exc.value.problems[0]
    assert problem.key == "runs_dir" and "SCRATCH_T" in problem.message and problem.file == str(exp.resolve())


def test_cluster_flag_replaces_profile(tree: Path) -> None:
    write(
        tree / "cluster" / "site.yaml",
        "name: site\nscheduler: slurm\nnodes: 2\nhardware: {accelerator: nvidia, gpus_per_node: 4}\n",
    )
    exp = write(
        tree / "experiments" / "x.yaml",
        "defaults: [{model: tiny}, {cluster: local}]\ntrain: {steps: 5, warmup_steps: 0, seq_length: 64}\n",
    )
    assert load_config(exp).config.cluster.name == "local"
    cfg = load_config(exp, cluster="site").config
    assert cfg.cluster.name == "site" and cfg.cluster.hardware.gpus_per_node == 4
    with pytest.raises(ConfigError) as exc:
        load_config(exp, cluster="nowhere")
    assert "known:" in exc.value.problems[0].message


def test_defaults_cycle_and_missing_file(tree: Path) -> None:
    write(tree / "experiments" / "a.yaml", "defaults: [./b.yaml]\n")
    write(tree / "experiments" / "b.yaml", "defaults: [./a.yaml]\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tree / "experiments" / "a.yaml")
    write(tree / "experiments" / "c.yaml", "defaults: [train/missing.yaml]\n")
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tree / "experiments" / "c.yaml")


def test_invalid_yaml_reports_line(tree: Path) -> None:
    exp = write(tree / "experiments" / "x.yaml", "train:\n  steps: [1, 2\n")
    with pytest.raises(ConfigError) as exc:
        load_config(exp)
    assert "invalid YAML" in exc.value.problems[0].message
    assert exc.value.problems[0].file.startswith(str(exp))


def test_malformed_override(configs_root: Path) -> None:
    with pytest.raises(ConfigError, match="key.path=value"):
        load_config(configs_root / DEMO, ["train.lr"])


def test_gelu_models_are_for_plan_only() -> None:
    from llm_train.backends.hf_llama import llama_config
    from llm_train.config.model import ModelConfig

    with pytest.raises(ConfigError) as exc:
        llama_config(ModelConfig(mlp="gelu"))
    assert exc.value.problems[0].key == "model.mlp"
