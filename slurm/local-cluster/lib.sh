# Shared by start.sh and stop.sh (sourced, not executed).
# Settings (environment variables) are documented in README.md.

LC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LC_DIR/../.." && pwd)"
STATE="${LLM_TRAIN_SLURM_STATE:-$REPO_ROOT/.slurm-state}"
# The daemons run as other users (munge, mysql) and read what is made here: not the caller's umask.
umask 022

# munged runs as user munge and must reach its key, log and socket dirs. Under a directory other
# users cannot enter (a checkout in a 0700 home or temp dir) it cannot, so its part of the state
# then lives in /var/tmp, one dir per state dir; every other daemon runs as root and stays in $STATE.
munge_dir() {
    local d="$STATE"
    while [[ "$d" != / ]]; do
        if [[ -e "$d" ]] && (( (8#$(stat -c %a "$d") & 1) == 0 )); then
            echo "/var/tmp/llm-train-munge-$(printf '%s' "$STATE" | sha256sum | cut -c1-12)"
            return
        fi
        d="$(dirname "$d")"
    done
    echo "$STATE/munge"
}
MUNGE_DIR="$(munge_dir)"

SETTING_ACCOUNTING="${SETTING_ACCOUNTING:-1}"
SETTING_NODES="${SETTING_NODES:-2}"
SETTING_CPUS="${SETTING_CPUS:-2}"
SETTING_GPUS="${SETTING_GPUS:-0}"
SETTING_CLUSTER="${SETTING_CLUSTER:-lab}"
SETTING_CTLD_PORT="${SETTING_CTLD_PORT:-6817}"
SETTING_DBD_PORT="${SETTING_DBD_PORT:-6819}"
SETTING_DB_PORT="${SETTING_DB_PORT:-13306}"
# slurmd of node i listens on SETTING_SLURMD_PORT_BASE + i.
SETTING_SLURMD_PORT_BASE="${SETTING_SLURMD_PORT_BASE:-6918}"

log() { printf '[local-slurm] %s\n' "$*"; }
die() { printf '[local-slurm] error: %s\n' "$*" >&2; exit 1; }

node_names() {
    local i
    for ((i = 1; i <= SETTING_NODES; i++)); do printf 'n%d\n' "$i"; done
}

# Daemons in start order; stop goes in reverse.
daemon_names() {
    echo munged
    if [[ "$SETTING_ACCOUNTING" == 1 ]]; then echo mariadbd; echo slurmdbd; fi
    echo slurmctld
    local n
    for n in $(node_names); do echo "slurmd-$n"; done
}

pid_file() { echo "$STATE/pids/$1.pid"; }

# The executable name a recorded PID must have (guards against PID reuse).
expected_comm() {
    case "$1" in
        slurmd-*) echo slurmd ;;
        *) echo "$1" ;;
    esac
}

# True when the PID exists, is not a zombie and runs the expected program.
pid_alive() {
    local pid="$1" comm="$2" stat
    [[ -n "$pid" && -r "/proc/$pid/stat" ]] || return 1
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    # Field 3 (after the parenthesised comm) is the state; Z and X are dead.
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z && "${stat:0:1}" != X ]] || return 1
    [[ -z "$comm" || "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm" ]]
}

recorded_pid() {
    local f
    f="$(pid_file "$1")"
    [[ -r "$f" ]] && cat "$f"
}

daemon_alive() {
    local pid
    pid="$(recorded_pid "$1")" || return 1
    pid_alive "$pid" "$(expected_comm "$1")"
}

# Every daemon that has a pid file, whether or not the current settings expect it.
recorded_daemons() {
    local f
    shopt -s nullglob
    for f in "$STATE"/pids/*.pid; do basename "$f" .pid; done
    shopt -u nullglob
}

slurm_env() {
    export SLURM_CONF="$STATE/etc/slurm.conf"
    case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin:/sbin" ;; esac
}

now_ms() { date +%s%3N; }
# Seconds since a now_ms timestamp, one decimal.
elapsed_s() {
    local d=$(($(now_ms) - $1))
    printf '%d.%d' $((d / 1000)) $((d % 1000 / 100))
}
