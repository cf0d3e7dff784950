# The README's commands: `make demo` and `make test`. Everything installs itself into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel; on a GPU site install the CUDA/ROCm build of the same version first.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup demo demo-slurm test test-slow test-fast lint format bench gpu-wheels clean

setup: $(STAMP)

# The C modules are compiled by the editable install: a changed .c file reinstalls.
$(STAMP): pyproject.toml setup.py $(wildcard data_prep/*/*.c)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(BIN)/python scripts/demo.py

demo-slurm: setup
	$(BIN)/python scripts/demo.py --slurm

# Everything but the tests marked slow; those run in CI through `make test-slow`.
test: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: setup
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# Everything except the slow and Slurm tests: the inner loop while developing.
test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not slurm" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# datatrove 0.10 pins huggingface-hub>=1.6 (transformers<5 refuses it): the reference tool gets its own venv.
BENCH_VENV ?= .venv-bench
$(BENCH_VENV)/.installed:
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q 'datatrove[processing]>=0.10,<0.11' orjson spacy heliport rensa \
		zstandard phonenumbers pydantic pyyaml xxhash psutil
	@touch $@

# The ~150 MB benchmark corpus, built offline from the Debian packages (a few minutes, once).
BENCH_CORPUS ?= data/bench
data/bench/.built:
	$(BIN)/python scripts/corpus/build_corpus.py --size bench --output data/bench
	@touch $@

bench: setup $(BENCH_VENV)/.installed data/bench/.built
	$(BIN)/python benchmarks/prep_vs_datatrove.py --corpus $(BENCH_CORPUS) --datatrove-python $(BENCH_VENV)/bin/python
	$(BIN)/python benchmarks/pack_throughput.py --raw data/sample --workers 1,2 --datatrove-python $(BENCH_VENV)/bin/python
	$(BIN)/python benchmarks/train_step.py

# What benchmarks/gpu_check.sh installs on an offline GPU node (CPython 3.12): megatron-core, DeepSpeed
# (built here, pure Python), pydantic and the rest the check imports; git-ignored, under 64 MiB.
gpu-wheels: setup
	$(BIN)/python benchmarks/gpu_check_wheels.py build --out build/gpu-wheels

clean:
	rm -rf work runs .pytest_cache .ruff_cache
