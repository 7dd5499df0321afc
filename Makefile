# greenlight: every target documents itself with a `## ` comment; `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
# Laptops without CUDA can save GBs: make setup PIP_EXTRA="--extra-index-url https://download.pytorch.org/whl/cpu"
PIP_EXTRA ?=

export PYTHONHASHSEED := 0
# dvc.yaml stages call `greenlight ...`: put the project's tools first on PATH for every recipe.
export PATH := $(abspath $(BIN)):$(PATH)

##@ Setup
.PHONY: setup
setup: $(STAMP) ## Create .venv and install the locked dependencies (idempotent)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIP_EXTRA) -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

.PHONY: lock
lock: ## Re-resolve dependencies from pyproject.toml into requirements.lock
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet $(PIP_EXTRA) -e '.[dev]'
	{ echo '# Exact, tested dependency set (pip freeze of `make setup` on Python 3.11). Regenerate: make lock'; \
	  .lock-venv/bin/pip freeze --exclude-editable | sed 's/^torch==\([0-9.]*\)+.*/torch==\1/'; } > requirements.lock
	rm -rf .lock-venv

##@ Pipeline
.PHONY: pull
pull: setup ## Fetch the raw data from the default DVC remote
	$(BIN)/dvc pull data.dvc

.PHONY: repro
repro: pull ## Set up, pull the data and run the whole DVC pipeline
	$(BIN)/dvc repro
	$(BIN)/dvc metrics show

.PHONY: gate
gate: setup ## Fail unless metrics and fairness meet the thresholds in params.yaml
	$(BIN)/greenlight gate

##@ Quality
.PHONY: lint
lint: setup ## All pre-commit hooks on all files: hygiene, ruff, format, the 20-line rule
	$(BIN)/pre-commit run --all-files --show-diff-on-failure

.PHONY: format
format: setup ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

.PHONY: test
test: setup lint ## Lint, then run the whole test suite
	$(BIN)/pytest

.PHONY: test-fast
test-fast: setup ## Run the tests that take seconds (not the slow end-to-end ones)
	$(BIN)/pytest -m "not slow"

##@ Benchmarks (JSON under reports/)
.PHONY: bench-pipeline
bench-pipeline: pull ## Time the full pipeline, a no-op repro and `dvc version`
	$(BIN)/python -m greenlight.devtools.bench_pipeline

##@ Housekeeping
.PHONY: clean
clean: ## Remove pipeline outputs (the DVC cache and .venv stay)
	rm -rf artifacts reports/*.json reports/plots reports/figures models/bundle

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
