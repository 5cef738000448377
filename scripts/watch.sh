#!/usr/bin/env bash
# The cargo lambda loop: serves all three functions on http://127.0.0.1:9000, rebuilding on
# change, against the local development database. Send events with `make invoke-collector`,
# `make invoke-detector`, `make invoke-api`; the API also answers plain HTTP under
# http://127.0.0.1:9000/lambda-url/api/...
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/localdb.sh
source scripts/lib/lambda.sh

ensure_cargo_lambda
localdb_start
trap localdb_stop EXIT
set +e
cargo lambda watch -A 127.0.0.1 -P 9000 \
    --env-var "DATABASE_URL=$DATABASE_URL" \
    --env-var METRICS_SINK=log \
    --env-var LOG_FORMAT="${LOG_FORMAT:-pretty}" \
    --env-var API_KEY="${API_KEY:-local-dev-key}" \
    --env-var RUST_LOG="${RUST_LOG:-info}"
