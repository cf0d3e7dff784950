"""The one check of extra `#SBATCH` options (profile `slurm.extra_sbatch`, `--sbatch`), for every
job kind: the form `--name[=value]`, a name sbatch knows (a misspelling is refused with the close
matches and the list of valid names), and not one the layer writes itself.
"""

from __future__ import annotations

import difflib
import re

from llm_train.errors import ConfigError, ConfigProblem

# sbatch's long options (Slurm 22.05 - 24.11), the ones a batch script may carry.
SBATCH_OPTIONS = frozenset(
    """
    account acctg-freq array batch bb bbf begin chdir cluster-constraint clusters comment constraint
    container container-id contiguous core-spec cores-per-socket cpu-freq cpus-per-gpu cpus-per-task
    deadline delay-boot dependency distribution error exclude exclusive export export-file extra
    extra-node-info get-user-env gid gpu-bind gpu-freq gpus gpus-per-node gpus-per-socket
    gpus-per-task gres gres-flags hint hold ignore-pbs input job-name kill-on-invalid-dep licenses
    mail-type mail-user mcs-label mem mem-bind mem-per-cpu mem-per-gpu mincpus network nice no-kill
    no-requeue nodefile nodelist nodes ntasks ntasks-per-core ntasks-per-gpu ntasks-per-node
    ntasks-per-socket open-mode output overcommit oversubscribe partition power prefer priority
    profile propagate qos quiet reboot requeue reservation resv-ports segment signal
    sockets-per-node spread-job switches thread-spec threads-per-core time time-min tmp tres-bind
    tres-per-task uid use-min-nodes verbose wait-all-nodes wckey
    """.split()  # noqa: SIM905 - a word list reads better than 100 quoted strings
)
# Options every job's header sets from the profile or the job itself: an extra line with one of
# them would silently fight it. Each has its own profile key or flag.
RESERVED = frozenset(
    """
    job-name nodes ntasks ntasks-per-node cpus-per-task gres gpus-per-node mem time partition
    account qos reservation constraint array mail-type mail-user exclusive output error open-mode
    chdir signal requeue no-requeue dependency
    """.split()  # noqa: SIM905
)
_FORM = re.compile(r"^--([a-z][a-z0-9-]*)(=\S.*)?$")


def check_sbatch_options(options: list[str] | tuple[str, ...], key: str, file: str | None = None) -> None:
    """Raise ConfigError naming every bad option in `options` (found under config `key`)."""
    problems = []
    for option in options:
        m = _FORM.match(option)
        if not m:
            problems.append(ConfigProblem(file, key, "expected '--option[=value]'", option))
            continue
        name = m.group(1)
        if name in RESERVED:
            problems.append(
                ConfigProblem(
                    file,
                    key,
                    f"--{name} is set by the job layer from the profile or a flag; "
                    "expected an option the script does not already set",
                    option,
                )
            )
        elif name not in SBATCH_OPTIONS:
            close = difflib.get_close_matches(name, sorted(SBATCH_OPTIONS), n=3)
            hint = f"did you mean {', '.join('--' + c for c in close)}? " if close else ""
            valid = ", ".join("--" + n for n in sorted(SBATCH_OPTIONS - RESERVED))
            problems.append(
                ConfigProblem(
                    file, key, f"sbatch has no option --{name}; {hint}valid options: {valid}", option
                )
            )
    if problems:
        raise ConfigError(problems)


def as_parameters(options: tuple[str, ...]) -> dict[str, str | bool]:
    """Checked options as {name: value}, a bare flag as True (submitit's additional_parameters)."""
    out: dict[str, str | bool] = {}
    for option in options:
        name, _, value = option[2:].partition("=")
        out[name] = value if value else True
    return out
