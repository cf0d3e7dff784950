#!/usr/bin/env bash
# The GPU check in one command: megatron-core and DeepSpeed throughput of the 1b preset (MFU), an
# async checkpoint round trip, HF export parity and memory against `llm-train plan` on one GPU;
# steps and time caps in benchmarks/gpu_check.py. Writes gpu_check.json and gpu_check.md to OUT.
#
#   benchmarks/gpu_check.sh [OUT]                  on a GPU node, offline (about 8 minutes at most)
#   benchmarks/gpu_check.sh --cpu-dry-run [OUT]    the same steps on CPU: tiny preset, gloo, test shim
#
# On a GPU node the node's Python (python3: CUDA torch, transformers) is used and whatever else
# the check imports is installed from the wheelhouse (`make gpu-wheels` builds build/gpu-wheels)
# into a scratch directory put on PYTHONPATH; nothing is downloaded.
# Options: --wheelhouse DIR, --python PY, --budget SECONDS, --only a,b,... (rerun some steps).
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
caller=$(pwd)

mode=gpu out="" wheelhouse="" py="${PYTHON:-}" args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-dry-run) mode=cpu ;;
    --wheelhouse) wheelhouse=$2; shift ;;
    --python) py=$2; shift ;;
    --budget|--only) args+=("$1" "$2"); shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) out=$1 ;;
  esac
  shift
done
out=${out:-$REPO/runs/gpu-check/$(date +%Y%m%d-%H%M%S)-$mode}
case "$out" in /*) ;; *) out="$caller/$out" ;; esac
mkdir -p "$out/steps" "$out/logs" || exit 2
cd "$REPO" || exit 2
work=$(mktemp -d "${TMPDIR:-/tmp}/llm-train-gpu-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ "$mode" = gpu ]; then
  if [ -z "$py" ]; then  # the node's Python with its CUDA torch
    for candidate in python3 python; do
      "$candidate" -c "import torch" >/dev/null 2>&1 && { py=$candidate; break; }
    done
    py=${py:-python3}
  fi
  wheelhouse=${wheelhouse:-build/gpu-wheels}
  export CUDA_DEVICE_MAX_CONNECTIONS=1  # megatron's ordering of communication and compute kernels
else
  [ -z "$py" ] && { [ -x .venv/bin/python ] && py=.venv/bin/python || py=python3; }
  # The test-only shim lets megatron-core run on CPU; every process started loads it (its
  # sitecustomize; one earlier on the caller's PYTHONPATH comes first and may chain to it).
  export LLM_TRAIN_TEST_CPU_SHIM=1 DS_ACCELERATOR=cpu OMP_NUM_THREADS=1
  export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$REPO/tests/megatron_shim_site"
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export LLM_TRAIN_CONFIGS="$REPO/configs" TORCH_EXTENSIONS_DIR="$work/torch_extensions"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1

if [ -n "$wheelhouse" ]; then
  if [ ! -f "$wheelhouse/MANIFEST.json" ]; then
    echo "gpu_check.sh: no wheelhouse at $wheelhouse: run 'make gpu-wheels' where a package index is reachable" \
      "and bring build/gpu-wheels along" >&2
  elif timeout 180 "$py" benchmarks/gpu_check_wheels.py install --wheelhouse "$wheelhouse" \
      --target "$work/site" --report "$out/steps/wheels.json" >"$out/logs/wheels.log" 2>&1; then
    tail -n 1 "$out/logs/wheels.log"
  else
    echo "gpu_check.sh: wheelhouse install incomplete (the steps that need the rest will fail):" >&2
    tail -n 5 "$out/logs/wheels.log" >&2
  fi
  [ -d "$work/site" ] && export PYTHONPATH="$work/site:$PYTHONPATH"
fi

"$py" benchmarks/gpu_check.py --mode "$mode" --out "$out" --work "$work" ${args[@]+"${args[@]}"}
rc=$?
echo "gpu check: $out/gpu_check.md and $out/gpu_check.json (exit $rc)"
exit $rc
