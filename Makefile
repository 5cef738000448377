# tickwatch — the commands a developer needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help test lint fmt fmt-check clippy build check deploy destroy check-terraform check-release fuzz-api

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
	@# The workspace build turns on every AWS feature of the library; the detector is built
	@# with none, so this lints the code paths of the functions without the SDK.
	cargo clippy -p detector -- -D warnings

check: ## type-check everything quickly
	cargo check --workspace --all-targets

.PHONY: run
run: ## run the pipeline locally: throwaway PostgreSQL, synthetic prices, API on :8080
	@scripts/run.sh $(ARGS)

.PHONY: clean-db
clean-db: ## delete make run's local database (stopped first); the next make run starts empty
	@scripts/clean-db.sh

.PHONY: import
import: ## import a CSV of candles (the columns history?format=csv exports) into make run's database: make import SYMBOL=BTC FILE=history.csv
	@SYMBOL="$(SYMBOL)" FILE="$(FILE)" scripts/import.sh

.PHONY: watch invoke-collector invoke-detector invoke-api invoke-planner invoke-writer invoke-migrator
watch: ## serve every function with cargo lambda watch on 127.0.0.1:9000 (WATCH_PORT)
	@scripts/watch.sh

invoke-collector: ## send events/collector-scheduled.json to the watched collector
	@scripts/invoke.sh collector $(or $(EVENT),events/collector-scheduled.json)

invoke-detector: ## send events/detector-scheduled.json to the watched detector
	@scripts/invoke.sh detector $(or $(EVENT),events/detector-scheduled.json)

invoke-planner: ## send events/planner-scheduled.json to the watched planner (prints the plan)
	@scripts/invoke.sh planner $(or $(EVENT),events/planner-scheduled.json)

invoke-writer: ## send events/writer-sqs.json (an SQS batch of candles) to the watched writer
	@scripts/invoke.sh writer $(or $(EVENT),events/writer-sqs.json)

invoke-migrator: ## send events/migrator-migrate.json to the watched migrator (migrations and roles)
	@scripts/invoke.sh migrator $(or $(EVENT),events/migrator-migrate.json)

invoke-api: ## send events/api-latest.json (an API Gateway HTTP API request; EVENT=file for another) to the watched api
	@scripts/invoke.sh api $(or $(EVENT),events/api-latest.json)

# ----------------------------------------------------------------------------------------------
# Cloud. ARCH is the Lambda architecture to build for: lambda_architecture from
# terraform/terraform.tfvars when it sets one, arm64 otherwise.
ARCH ?= $(or $(shell sed -n 's/^[[:space:]]*lambda_architecture[[:space:]]*=[[:space:]]*"\([a-z0-9_]*\)".*/\1/p' terraform/terraform.tfvars 2>/dev/null),arm64)
TERRAFORM := CHECKPOINT_DISABLE=1 terraform -chdir=terraform

build: ## release zips of the three functions in target/lambda/ (ARCH=arm64|x86_64; installs cargo-lambda if missing)
	@scripts/build.sh $(ARCH)

deploy: build ## build, then terraform init and apply in terraform/ (needs AWS credentials)
	$(TERRAFORM) init -input=false
	$(TERRAFORM) apply -var lambda_architecture=$(ARCH)

destroy: ## terraform destroy (set db_deletion_protection = false and apply first)
	$(TERRAFORM) init -input=false
	$(TERRAFORM) destroy -var lambda_architecture=$(ARCH)

check-terraform: ## offline checks of terraform/: fmt, checkov, and the Terraform-vs-code test
	@scripts/check-terraform.sh

check-release: ## release build for ARCH, checked: zips exist, glibc <= 2.34, sizes printed
	@scripts/check-release.sh $(ARCH)
.PHONY: eval-detector
eval-detector: ## the detection evaluation table: every method, the consensus and a baseline on labelled series
	cargo run --profile bench -p tickwatch --example eval_detector

.PHONY: bench bench-collector bench-detector bench-api bench-startup bench-profiles
bench: ## every benchmark, then one table of every figure with its aim (not run by CI)
	@scripts/bench-all.sh

BENCH_VENV ?= $(HOME)/.cache/tickwatch/venv-detector


bench-detector: ## every detector and the consensus, Rust against numpy/pandas/scikit-learn on the same data
	@test -x "$(BENCH_VENV)/bin/python" || python3 -m venv "$(BENCH_VENV)"
	@"$(BENCH_VENV)/bin/pip" install -q -r tests/reference/requirements.txt
	TICKWATCH_BENCH_PYTHON="$(BENCH_VENV)/bin/python" cargo bench -p tickwatch --bench detector

fuzz-api: ## fuzz the API with schemathesis against its OpenAPI document (also run by make test)
	@scripts/fuzz-api.sh


bench-api: ## the API under wrk next to pgbench running the same SQL, a million candles loaded
	@scripts/bench-api.sh
bench-collector: ## backfill 1,000,000 synthetic candles: our upsert path next to COPY (BENCH_BREAKDOWN=1: where the time goes)
	@scripts/bench.sh $(ROWS)

bench-startup: ## Lambda cold start vs a hello-world Lambda (time, instructions, peak RSS) and zip sizes: x86_64 natively, arm64 under qemu-user (BENCH_ARCHES)
	@scripts/bench-startup.sh
bench-profiles: ## the api under each release profile (opt-level / LTO / codegen-units): build time, zip, start instructions, API ratios
	@scripts/bench-profiles.sh
