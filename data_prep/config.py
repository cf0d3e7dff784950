"""The prep config: what `llm-train prep` reads, filters, deduplicates and writes.

Composed like every other config (YAML `defaults:` lists, `key.path=value` overrides,
`${env:VAR,default}`), validated by the typed sections below. `steps` is an ordered mapping
`name -> parameters`: the order is the pipeline order, each name is looked up in the step
registry and the parameters are passed to the step's constructor (`enabled: false` turns a
step off without deleting it). A YAML `defaults:` entry should be a `./relative.yaml` path.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, NonNegativeInt, PositiveInt, ValidationError

from llm_train.config.base import Section
from llm_train.config.compose import Composer, Provenance, deep_merge, find_configs_root
from llm_train.config.loader import dump_yaml, sha256_text
from llm_train.config.overrides import apply_overrides, interpolate_env, source_of
from llm_train.errors import ConfigError, ConfigProblem

DEFAULT_CONFIG = "data/prep-default.yaml"
CLI_SOURCE = "<command line>"


class InputSection(Section):
    # Globs of input shards: files (.jsonl[.gz|.zst], .parquet, .warc[.gz]) or directories of .txt.
    paths: list[str] = []
    format: Literal["auto", "jsonl", "parquet", "txt", "warc"] = "auto"
    text_field: str = Field("text", min_length=1)
    id_field: str = Field("id", min_length=1)
    # Source name for records without one; None uses the input file's name.
    source: str | None = None
    # Documents larger than this (UTF-8 bytes) are counted as `read_too_large` and skipped.
    max_doc_bytes: PositiveInt = 10 * 1024 * 1024


class DedupSection(Section):
    exact: bool = True
    near: bool = True
    # MinHash over word n-grams; FineWeb's defaults (5-grams, 14 bands x 8 rows ~ Jaccard 0.75).
    ngram: PositiveInt = 5
    bands: PositiveInt = 14
    rows: PositiveInt = 8
    seed: NonNegativeInt = 1


class OutputSection(Section):
    dir: str | None = None
    # Fraction of each language held out as `validation`, chosen by hashing the document id.
    validation_fraction: float = Field(0.01, ge=0.0, lt=1.0)
    validation_fraction_per_lang: dict[str, float] = {}
    # Keep the per-shard intermediate documents after a successful run (for debugging).
    keep_intermediate: bool = False
    charts: bool = True
    # Write every removed document, with the statistic that decided, to
    # dropped/<step>/<reason>/part-*.jsonl.zst (an audit trail of what each threshold removes).
    write_dropped: bool = False


class SlurmSection(Section):
    # The cluster profile (configs/cluster/NAME.yaml; `--cluster`) the job arrays are built from:
    # modules, container, environment, account, partition and QoS, exactly as for training.
    cluster: str | None = None
    # Overrides of the profile's values for the prep arrays (like `llm-train submit`'s flags).
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str = Field("04:00:00", pattern=r"^(\d+-)?\d{1,2}(:\d{2}){0,2}$")
    # Unset: the profile's cpus_per_task and mem.
    cpus_per_task: PositiveInt | None = None
    mem: str | None = Field(None, pattern=r"^\d+[KMGT]?$")
    # At most this many array tasks run at once (`--array=0-N%limit`).
    array_limit: PositiveInt = 32
    # Input shards handled by one array task, one after the other.
    shards_per_task: PositiveInt = 1
    # Seconds between the driver's sacct queries of a running array (progress comes from the
    # tasks' done markers; a site may ask for a slower pace).
    poll_s: float = Field(30.0, gt=0)
    # Extra `#SBATCH` options of the prep arrays (e.g. `--hint=nomultithread`), checked like the
    # profile's own `slurm.extra_sbatch`.
    extra: list[str] = []


class ExecutorSection(Section):
    kind: Literal["local", "slurm"] = "local"
    workers: PositiveInt = 1
    slurm: SlurmSection = SlurmSection()


class PrepConfig(Section):
    name: str = "prep"
    # Modules imported before steps are looked up, so they can register their own steps.
    plugins: list[str] = []
    input: InputSection = InputSection()
    steps: dict[str, dict[str, Any] | None] = {}
    dedup: DedupSection = DedupSection()
    output: OutputSection = OutputSection()
    executor: ExecutorSection = ExecutorSection()

    def enabled_steps(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for name, params in self.steps.items():
            params = dict(params or {})
            if params.pop("enabled", True):
                out.append((name, params))
        return out

    def identity(self) -> dict[str, Any]:
        """The settings that decide the output bytes; executor settings may change between resumed runs."""
        data = self.model_dump(mode="json")
        data.pop("executor")
        # Where the output goes does not change its content (a moved output dir still resumes).
        data["output"].pop("dir")
        return data


@dataclass
class ResolvedPrep:
    config: PrepConfig
    yaml: str
    sha256: str
    provenance: Provenance = field(default_factory=dict)


def default_config_path() -> Path | None:
    path = find_configs_root(Path.cwd() / "x") / DEFAULT_CONFIG
    return path if path.exists() else None


def load_prep_config(
    path: str | Path | None,
    overrides: list[str] | tuple[str, ...] = (),
    cli_values: dict[str, Any] | None = None,
) -> ResolvedPrep:
    """Compose `path` (or the default prep config), apply CLI values and overrides, validate."""
    data: dict[str, Any] = {}
    prov: Provenance = {}
    path = Path(path) if path else default_config_path()
    if path is not None:
        data, prov = Composer(find_configs_root(path)).compose(path)
    if cli_values:
        deep_merge(data, cli_values, prov, CLI_SOURCE)
    apply_overrides(data, prov, list(overrides))
    data = interpolate_env(data, prov)
    try:
        config = PrepConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, prov)) from None
    identity_yaml = dump_yaml_dict(config.identity())
    return ResolvedPrep(config, dump_yaml(config), sha256_text(identity_yaml), prov)


def dump_yaml_dict(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _problems(exc: ValidationError, prov: Provenance) -> list[ConfigProblem]:
    problems = []
    for err in exc.errors(include_url=False):
        key = ".".join(str(p) for p in err["loc"] if not _is_union_tag(p))
        if err["type"] == "extra_forbidden":
            message = "unknown key" + _suggestion(err["loc"])
        else:
            message = f"expected {err['msg'][0].lower()}{err['msg'][1:]}"
        problems.append(ConfigProblem(source_of(prov, key), key, message, err.get("input", ...)))
    return problems


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and ("[" in part or part in ("dict", "none"))


def _suggestion(loc: tuple) -> str:
    model: Any = PrepConfig
    for part in loc[:-1]:
        info = getattr(model, "model_fields", {}).get(part)
        if info is None or not (isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)):
            return ""
        model = info.annotation
    fields = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} valid keys here: {', '.join(fields)}"
