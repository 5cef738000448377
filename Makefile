# tickwatch — the commands a developer needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help test lint fmt fmt-check clippy build check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

test: ## run every test against a throwaway PostgreSQL and a local AWS-compatible server
	@scripts/test.sh $(ARGS)

lint: fmt-check clippy ## formatting and clippy, as CI checks them

fmt: ## format the code
	cargo fmt --all

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

check: ## type-check everything quickly
	cargo check --workspace --all-targets

.PHONY: bench bench-detector

BENCH_VENV ?= $(HOME)/.cache/tickwatch/venv-detector

bench: bench-detector ## every benchmark (not run by CI)

bench-detector: ## the seven detectors, Rust against numpy/pandas/scikit-learn on the same data
	@test -x "$(BENCH_VENV)/bin/python" || python3 -m venv "$(BENCH_VENV)"
	@"$(BENCH_VENV)/bin/pip" install -q -r tests/reference/requirements.txt
	TICKWATCH_BENCH_PYTHON="$(BENCH_VENV)/bin/python" cargo bench -p tickwatch --bench detector
