# The README's commands: `make demo` and `make test`. Everything installs itself into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel; on a GPU site install the CUDA/ROCm build of the same version first.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup demo demo-slurm test test-fast lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(BIN)/python scripts/demo.py

demo-slurm: setup
	$(BIN)/python scripts/demo.py --slurm

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Everything except the slow and Slurm tests: the inner loop while developing.
test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not slurm" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf work runs .pytest_cache .ruff_cache
