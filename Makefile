# sigmoidnet — `make train` trains the bundled example, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch: the CPU build is put in first when this machine has no NVIDIA GPU, so that the
# project's broad `torch>=2.6` does not pull a multi-GB CUDA build. Override with TORCH_SPEC=...
TORCH_SPEC ?= torch==2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
QUICK ?=

.PHONY: install train test test-slow test-all lint format bench clean

$(BIN)/sigmoidnet: pyproject.toml setup.py sigmoidnet/_csvparse.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import torch" 2>/dev/null || { \
	  if command -v nvidia-smi >/dev/null 2>&1; then \
	    $(BIN)/pip install -q "$(TORCH_SPEC)"; \
	  elif ls /opt/wheels/torch-*+cpu-*.whl >/dev/null 2>&1; then \
	    $(BIN)/pip install -q "$(TORCH_SPEC)" --find-links /opt/wheels; \
	  else \
	    $(BIN)/pip install -q "$(TORCH_SPEC)" --index-url $(TORCH_CPU_INDEX) \
	      || $(BIN)/pip install -q "$(TORCH_SPEC)"; \
	  fi; }
	$(BIN)/pip install -q -e ".[dev]"
	@touch $@

install: $(BIN)/sigmoidnet  ## create .venv with sigmoidnet and its dev tools

train: install  ## train the bundled breast-cancer example (configs/default.yaml)
	$(BIN)/sigmoidnet train --config configs/default.yaml

test: install  ## the fast test suite
	$(BIN)/pytest -q

test-slow: install  ## only the slow tests
	$(BIN)/pytest -q -m slow

test-all: install
	$(BIN)/pytest -q -m "slow or not slow"

lint: install  ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install  ## speed benchmarks; QUICK=1 for a two-minute smoke run
	$(BIN)/python -m benchmarks.run $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench-results build sigmoidnet/*.so sigmoidnet/*.pyd
