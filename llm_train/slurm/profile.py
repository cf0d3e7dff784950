"""The cluster profile, read in one place for every job kind: which partition, time limit, account,
QoS, reservation, constraint, exclusivity, extra options, modules, setup lines, environment and
container a job gets. A profile comes with an experiment (`Site.of(resolved)`) or on its own
(`load_site("juwels-booster", ...)`, as `llm-train prep --cluster` needs it).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from llm_train.config.cluster import ClusterConfig, PartitionConfig
from llm_train.config.compose import Composer, Provenance, find_configs_root
from llm_train.config.loader import ResolvedConfig
from llm_train.config.overrides import apply_overrides, interpolate_env, source_of
from llm_train.errors import ConfigError, ConfigProblem
from llm_train.slurm.job import Container, Software
from llm_train.slurm.options import check_sbatch_options
from llm_train.slurm.timefmt import format_time, parse_time

DEFAULT_TIME = "01:00:00"
# Offline caches on compute nodes (no internet there); a profile may set other values.
DEFAULT_ENV = (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"))
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_./:,@%+=-]*$")


def problem(key: str, message: str, value: object = ..., file: str | None = None) -> ConfigError:
    return ConfigError([ConfigProblem(file, key, message, value)])


@dataclass(frozen=True)
class Site:
    """A cluster profile with where each of its values came from, and whose jobs these are."""

    cluster: ClusterConfig
    provenance: Provenance
    # Prefix of job names: the experiment's name, or the prep's.
    job_name: str
    # Set when the jobs belong to an experiment (train checks its layout against the job's ranks).
    experiment: ResolvedConfig | None = None
    # What the jobs belong to, in the scripts' description line.
    owner: str = "experiment"

    @classmethod
    def of(cls, source: Site | ResolvedConfig) -> Site:
        if isinstance(source, Site):
            return source
        return cls(source.config.cluster, source.provenance, source.config.name, source)

    def source(self, key: str) -> str:
        return source_of(self.provenance, key)


def load_site(
    profile: str,
    job_name: str,
    overrides: list[str] | tuple[str, ...] = (),
    configs_root: Path | None = None,
    owner: str = "prep",
) -> Site:
    """`configs/cluster/<profile>.yaml` (or a path to a profile file) on its own, validated.

    `overrides` are `cluster.key=value` (the same spelling as with an experiment).
    """
    root = configs_root or find_configs_root(Path.cwd() / "configs" / "cluster" / "x.yaml")
    path = Composer(root)._group_file("cluster", profile, "--cluster")
    data, prov = Composer(root).compose(path)
    data = {"cluster": data}
    prov = {"cluster": str(path), **{f"cluster.{k}": v for k, v in prov.items()}}
    apply_overrides(data, prov, list(overrides))
    data = interpolate_env(data, prov)
    try:
        cluster = ClusterConfig.model_validate(data["cluster"])
    except ValidationError as exc:
        raise ConfigError([_problem(err, prov) for err in exc.errors(include_url=False)]) from None
    return Site(cluster, prov, job_name, owner=owner)


def _problem(err, prov: Provenance) -> ConfigProblem:
    key = "cluster." + ".".join(str(p) for p in err["loc"])
    if err["type"] != "extra_forbidden":
        msg = err["msg"]
        return ConfigProblem(
            source_of(prov, key), key, f"expected {msg[0].lower()}{msg[1:]}", err.get("input", ...)
        )
    model = ClusterConfig
    for part in err["loc"][:-1]:
        model = getattr(model.model_fields.get(str(part)), "annotation", None)
        if not isinstance(model, type) or not hasattr(model, "model_fields"):
            return ConfigProblem(source_of(prov, key), key, "unknown key", err.get("input", ...))
    fields = list(model.model_fields)
    close = difflib.get_close_matches(str(err["loc"][-1]), fields, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    message = f"unknown key{hint} valid keys here: {', '.join(fields)}"
    return ConfigProblem(source_of(prov, key), key, message, err.get("input", ...))


def slurm_profile(site: Site) -> ClusterConfig:
    cluster = site.cluster
    if cluster.scheduler != "slurm":
        raise problem(
            "cluster.scheduler",
            f"profile {cluster.name!r} has no Slurm; pass --cluster with a Slurm profile "
            "(e.g. local-slurm or a site in configs/cluster/)",
            cluster.scheduler,
            site.source("cluster.scheduler"),
        )
    return cluster


def partition(site: Site, requested: str | None) -> tuple[str | None, PartitionConfig | None]:
    s = site.cluster.slurm
    name = requested or s.default_partition
    if not (name and s.partitions):
        return name, None
    part = s.partitions.get(name)
    if part is None:
        raise problem(
            "--partition",
            f"no partition {name!r} in profile {site.cluster.name!r}; known: {', '.join(s.partitions)}",
            name,
            site.source("cluster.slurm.partitions"),
        )
    return name, part


def time_limit(
    site: Site, requested: str | None, name: str | None, part: PartitionConfig | None
) -> tuple[str, int]:
    """The job's time limit (as written, and in seconds): the request, else the partition's
    maximum, else one hour."""
    time = requested or (part.max_time if part and parse_time(part.max_time) else DEFAULT_TIME)
    try:
        seconds = parse_time(time)
    except ValueError as exc:
        raise problem("--time", str(exc), time) from None
    if seconds is None or seconds <= 0:
        raise problem("--time", "expected a finite, positive time limit", time)
    limit = parse_time(part.max_time) if part is not None else None
    if limit is not None and seconds > limit:
        raise problem(
            "--time",
            f"{format_time(seconds)} is above the maximum of partition {name!r} ({part.max_time})",
            time,
            site.source(f"cluster.slurm.partitions.{name}.max_time"),
        )
    return time, seconds


def account(site: Site, requested: str | None) -> str | None:
    s = site.cluster.slurm
    found = requested or s.account or (os.environ.get(s.account_env) if s.account_env else None)
    if s.account_required and not found:
        where = f" or export {s.account_env}" if s.account_env else ""
        raise problem(
            "--account", f"profile {site.cluster.name!r} requires a compute account: pass --account{where}"
        )
    return found


def gpus_available(site: Site, part: PartitionConfig | None) -> int:
    if part is not None and part.gpus_per_node is not None:
        return part.gpus_per_node
    return site.cluster.hardware.gpus_per_node


def extra_options(site: Site, requested: tuple[str, ...]) -> tuple[str, ...]:
    profile_extra = tuple(site.cluster.slurm.extra_sbatch)
    check_sbatch_options(
        profile_extra, "cluster.slurm.extra_sbatch", site.source("cluster.slurm.extra_sbatch")
    )
    check_sbatch_options(requested, "--sbatch")
    return (*profile_extra, *requested)


def software(site: Site, cpus_per_task: int | None) -> Software:
    """Modules, setup lines, exports and container: the same for a script job and a function job."""
    sw = site.cluster.software
    c = sw.container
    if c.runtime != "none" and not c.image:
        raise problem(
            "cluster.software.container.image",
            f"container runtime {c.runtime!r} needs an image",
            None,
            site.source("cluster.software.container"),
        )
    env = dict(DEFAULT_ENV)
    if cpus_per_task:
        env["OMP_NUM_THREADS"] = str(cpus_per_task)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(sw.env)
    return Software(
        modules=tuple(sw.modules),
        setup=tuple(sw.setup),
        env=tuple((k, shell_value(v)) for k, v in env.items()),
        container=Container(c.runtime, c.image, tuple(c.flags), tuple(c.binds)),
    )


def shell_value(value: str) -> str:
    """A value for `export NAME=...`: bare when safe, else double-quoted so $VARS still expand."""
    if _SAFE_VALUE.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`") + '"'
