# tickwatch — the commands a developer needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help test lint fmt fmt-check clippy build check bench bench-collector

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

bench: bench-collector ## run the benchmarks (not part of CI)

bench-collector: ## backfill 1,000,000 synthetic candles: our upsert path next to COPY
	@scripts/bench.sh $(ROWS)
