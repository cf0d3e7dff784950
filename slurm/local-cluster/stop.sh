#!/usr/bin/env bash
# Stop the local Slurm cluster started by start.sh: cancel all jobs, then stop exactly the
# daemons whose PIDs start.sh recorded. Idempotent.
#   stop.sh           stop the daemons, keep the state dir (job ids, accounting DB, munge key)
#   stop.sh --reset   stop and also delete the state dir
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RESET=0
for arg in "$@"; do
    case "$arg" in
        --reset) RESET=1 ;;
        -h | --help) sed -n '2,6p' "$0"; exit 0 ;;
        *) die "unknown argument '$arg' (expected --reset)" ;;
    esac
done

t0=$(now_ms)
slurm_env

cancel_all_jobs() {
    daemon_alive slurmctld || return 0
    local ids
    ids="$(timeout 10 squeue -h -o %F 2>/dev/null | sort -u | tr '\n' ' ')" || return 0
    [[ -n "${ids// /}" ]] || return 0
    log "cancelling jobs: $ids"
    # shellcheck disable=SC2086
    timeout 10 scancel $ids 2>/dev/null || true
    local i
    for ((i = 0; i < 30; i++)); do
        [[ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ]] && return 0
        sleep 0.5
    done
    log "some jobs still listed after 15 s; stopping anyway"
}

# SIGTERM the given daemons together, wait up to $1 seconds, then SIGKILL what is left.
stop_daemons() {
    local grace="$1"; shift
    local name pid comm pids=() names=()
    for name in "$@"; do
        pid="$(recorded_pid "$name")" || continue
        comm="$(expected_comm "$name")"
        if pid_alive "$pid" "$comm"; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid"); names+=("$name")
        fi
    done
    local deadline i left
    deadline=$(($(date +%s) + grace))
    while :; do
        left=0
        for i in "${!pids[@]}"; do
            pid_alive "${pids[$i]}" "$(expected_comm "${names[$i]}")" && left=1
        done
        ((left)) || break
        if (($(date +%s) >= deadline)); then
            for i in "${!pids[@]}"; do
                if pid_alive "${pids[$i]}" "$(expected_comm "${names[$i]}")"; then
                    log "${names[$i]} (pid ${pids[$i]}) ignored SIGTERM; sending SIGKILL"
                    kill -KILL "${pids[$i]}" 2>/dev/null || true
                fi
            done
            sleep 0.2
            break
        fi
        sleep 0.1
    done
    for i in "${!names[@]}"; do log "stopped ${names[$i]} (pid ${pids[$i]})"; done
    for name in "$@"; do rm -f "$(pid_file "$name")"; done
}

# Job step daemons of this cluster outlive slurmd if a job was still running; they carry
# our SLURM_CONF in their environment, which identifies them exactly.
descendants() {
    local c
    for c in $(pgrep -P "$1" 2>/dev/null || true); do descendants "$c"; echo "$c"; done
}
stop_orphan_stepds() {
    local p env tree
    for p in $(pgrep -x slurmstepd 2>/dev/null || true); do
        env="$(tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null || true)"
        if grep -qxF "SLURM_CONF=$SLURM_CONF" <<<"$env"; then
            # The job's own processes hang below the step daemon (proctrack/linuxproc).
            tree="$(descendants "$p" | tr '\n' ' ')"
            log "killing leftover slurmstepd (pid $p) and its processes ${tree:-(none)}"
            # shellcheck disable=SC2086
            kill -KILL $tree "$p" 2>/dev/null || true
        fi
    done
}

if [[ -d "$STATE/pids" ]]; then
    cancel_all_jobs
    recorded="$(recorded_daemons)"
    slurm_daemons=()
    for name in $recorded; do
        case "$name" in slurmd-* | slurmctld) slurm_daemons+=("$name") ;; esac
    done
    ((${#slurm_daemons[@]})) && stop_daemons 15 "${slurm_daemons[@]}"
    stop_orphan_stepds
    stop_daemons 15 slurmdbd
    stop_daemons 30 mariadbd
    stop_daemons 10 munged
    # Anything else recorded (e.g. a node removed from the settings since it was started).
    rest="$(recorded_daemons)"
    # shellcheck disable=SC2086
    [[ -z "$rest" ]] || stop_daemons 10 $rest
fi

if ((RESET)); then
    [[ -n "$STATE" && "$STATE" != / && -d "$STATE" ]] && rm -rf -- "$STATE"
    [[ "$MUNGE_DIR" == /var/tmp/llm-train-munge-* && -d "$MUNGE_DIR" ]] && rm -rf -- "$MUNGE_DIR"
    log "state dir $STATE removed"
fi
log "stopped in $(elapsed_s "$t0") s"
