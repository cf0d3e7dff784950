"""The parallel layout has one owner: validate, submit, plan and the backends give the same verdict.

- a table of configs that megatron or DeepSpeed would refuse at start is refused by the config loader
  (`config validate` / `show`), by `submit --dry-run` before sbatch, by the backends' own start-up
  check and by `plan`'s view of the configured layout, each naming the same key path;
- every layout `plan` ranks, for three model sizes on three site profiles, loads as a config on that
  site and passes the backends' start-up check with the site's world size.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_train.cli.main import main as cli_main
from llm_train.config import ExperimentConfig, load_config
from llm_train.config.compose import Composer, find_configs_root
from llm_train.config.overrides import apply_overrides, interpolate_env
from llm_train.errors import ConfigError
from llm_train.parallel import ParallelLayout, Runtime, Shape, layout_problems, resolve_layout
from llm_train.plan.planner import PlanOptions, make_plan
from tests.megatron_workers import make_config

ROOT = Path(__file__).resolve().parents[1]
DEMO = str(ROOT / "configs/experiments/demo-cpu.yaml")
CPU = Runtime(cuda=False, te=False)
MEGATRON_TP2 = ["parallel.backend=megatron", "parallel.tp=2"]

# (overrides on demo-cpu, ranks the job would have, key path that must be named)
REFUSED = [
    (["parallel.recompute=selective"], 2, "parallel.recompute"),
    (["parallel.tp=2"], 2, "parallel.tp"),
    (["parallel.zero_stage=1", "parallel.offload_params=cpu"], 2, "parallel.offload_params"),
    (["checkpoint.async_save=true"], 2, "checkpoint.async_save"),
    ([*MEGATRON_TP2, "model.ffn_hidden_size=351"], 2, "parallel.tp"),
    ([*MEGATRON_TP2, "model.num_kv_heads=1"], 2, "parallel.tp"),
    ([*MEGATRON_TP2, "model.vocab_size=8191", "model.make_vocab_size_divisible_by=1"], 2,
     "model.make_vocab_size_divisible_by"),
    ([*MEGATRON_TP2, "parallel.sp=true", "train.seq_length=255"], 2, "train.seq_length"),
    (["parallel.backend=megatron", "parallel.pp=2", "parallel.vpp=2", "train.global_batch_size=6",
      "train.micro_batch_size=2"], 2, "train.global_batch_size"),
    (["parallel.backend=megatron", "parallel.pp=3"], 3, "parallel.pp"),
    (["parallel.backend=megatron", "parallel.offload_optimizer=cpu"], 2, "parallel.offload_optimizer"),
    (["parallel.backend=megatron", "parallel.cp=2"], 2, "parallel.cp"),
    (["parallel.backend=megatron", "train.precision=bf16"], 2, "train.precision"),
]  # fmt: skip


def _ids(case) -> str:
    return " ".join(o.split(".", 1)[1] for o in case[0] if not o.startswith("parallel.backend"))


def _unchecked(path: str, overrides: list[str], cluster: str) -> ExperimentConfig:
    """The config as typed, without the loader's consistency checks: what a backend would get if
    nothing had checked it before the job started."""
    data, prov = Composer(find_configs_root(Path(path)), {"cluster": cluster}).compose(Path(path))
    apply_overrides(data, prov, overrides)
    return ExperimentConfig.model_validate(interpolate_env(data, prov))


@pytest.mark.parametrize("case", REFUSED, ids=_ids)
def test_backend_refusals_are_refused_everywhere_with_the_key(case, capsys):
    overrides, ranks, key = case
    overrides = [*overrides, "parallel.dp=auto"]
    # What the backend checks at start (the real world size, on this CPU machine).
    cfg = _unchecked(DEMO, overrides, "local-slurm")
    with pytest.raises(ConfigError) as err:
        resolve_layout(cfg, ranks, CPU)
    assert key in [p.key for p in err.value.problems], err.value

    # `config validate` / `show` on the Slurm CPU profile (its nodes are CPUs: nothing left unknown).
    with pytest.raises(ConfigError) as err:
        load_config(DEMO, overrides, cluster="local-slurm")
    assert key in [p.key for p in err.value.problems], err.value
    assert cli_main(["config", "show", DEMO, "--cluster", "local-slurm", *overrides]) == 2
    assert f"{key}:" in capsys.readouterr().err

    # `submit --dry-run`: refused before any script is rendered.
    assert cli_main(["submit", DEMO, "--cluster", "local-slurm", "--dry-run", *overrides]) == 2
    err_text = capsys.readouterr().err
    assert f"{key}:" in err_text and "#SBATCH" not in err_text

    # `plan` says the configured layout does not run.
    plan = make_plan(cfg, PlanOptions(gpus=ranks, search=False))
    assert plan.configured_problem and key in plan.configured_problem


@pytest.mark.parametrize("site", ["juwels-booster", "lumi-g", "leonardo-booster"])
@pytest.mark.parametrize("model", ["1b", "7b", "70b"])
def test_every_layout_plan_prints_is_accepted(site, model):
    exp = ROOT / "configs/experiments/llama-7b-eu.yaml"
    cfg = load_config(exp, _model_overrides(model), cluster=site).config
    plan = make_plan(cfg, PlanOptions())  # the default `--top`: what `llm-train plan` prints
    printed = plan.ranked[: plan.options.top]
    assert printed, f"no layout fits {model} on {site}"
    world = plan.devices.count
    runtime = Runtime.for_cluster(cfg.cluster)
    for cand in printed:
        overrides = [*_model_overrides(model), *cand.layout.overrides()]
        resolved = load_config(exp, overrides, cluster=site).config  # config validate / show
        assert resolve_layout(resolved, world, runtime) == cand.layout  # the backends at start


def _model_overrides(model: str) -> list[str]:
    """The preset's keys as overrides (the experiment's `defaults:` picks 7b)."""
    import yaml

    data = yaml.safe_load((ROOT / "configs" / "model" / f"{model}.yaml").read_text())
    return [f"model.{k}={v}" for k, v in data.items()] + (
        ["model.num_kv_heads=null"] if "num_kv_heads" not in data else []
    )


def test_layout_derives_dp_and_counts_micro_batches():
    cfg = make_config({"tp": 2, "pp": 2})
    layout = resolve_layout(cfg, 8, CPU)
    assert (layout.tp, layout.pp, layout.cp, layout.dp, layout.world_size) == (2, 2, 1, 2, 8)
    assert layout.micro_batches_per_step(cfg.train.global_batch_size) == 2  # 8 / (2 x 2)
    assert ParallelLayout.from_config(cfg).dp is None  # dp=auto before the world size is known


@pytest.mark.parametrize(
    ("parallel", "world", "key", "fragment"),
    [
        ({"tp": 2, "pp": 2}, 6, "parallel.tp", "dividing the world size (6)"),
        ({"tp": 2, "dp": 4}, 4, "parallel.dp", "the world size / (tp x pp x cp) = 4 / 2 = 2"),
        ({"tp": 4}, 4, "parallel.tp", "model.num_kv_heads (2)"),
        ({"pp": 3}, 3, "parallel.pp", "dividing model.num_layers (4)"),
        ({"pp": 2, "vpp": 4}, 2, "parallel.pp", "pp x vpp (8)"),
        ({"cp": 2}, 2, "parallel.cp", "without Transformer Engine"),
    ],
)
def test_bad_layouts_name_the_key_and_what_would_fit(parallel, world, key, fragment):
    with pytest.raises(ConfigError) as err:
        resolve_layout(make_config(parallel), world, CPU)
    assert key in [p.key for p in err.value.problems], err.value
    assert fragment in str(err.value)


def test_all_problems_reported_at_once():
    with pytest.raises(ConfigError) as err:
        resolve_layout(make_config({"tp": 3, "sp": False, "pp": 3}), 9, CPU)
    assert len(err.value.problems) >= 3


def test_unknown_runtime_leaves_device_rules_to_the_job():
    """On a login node the `local` profile could run anywhere: CUDA-only rules wait for the job."""
    cfg = make_config({"cp": 2}, train={"precision": "bf16", "seq_length": 32})
    shape = Shape.from_config(cfg)
    layout = ParallelLayout.from_config(cfg, 2)
    assert layout_problems(layout, shape, Runtime(), 2) == []
    keys = {k for k, _, _ in layout_problems(layout, shape, CPU, 2)}
    assert keys == {"parallel.cp", "train.precision"}


def test_slurm_gpu_profile_fixes_the_world_size():
    exp = ROOT / "configs/experiments/llama-7b-eu.yaml"
    with pytest.raises(
        ConfigError, match=r"the profile's ranks \(cluster.nodes x GPUs per node\) / \(tp x pp x cp\)"
    ):
        load_config(exp, ["parallel.dp=3"], cluster="juwels-booster")
