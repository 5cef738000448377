#!/usr/bin/env bash
# The cargo lambda loop: serves all three functions on http://127.0.0.1:$WATCH_PORT (default
# 9000), rebuilding on change, against the local development database. Send events with
# `make invoke-collector`, `make invoke-detector`, `make invoke-api`; the API also answers plain
# HTTP under http://127.0.0.1:$WATCH_PORT/lambda-url/api/...
#
# The functions are built first, one by one as the watcher builds them, so a compile error
# shows here and the first invoke does not wait for a build. The watcher's output also goes to
# a log outside the workspace, where `make invoke-*` finds a function that could not start.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/localdb.sh
source scripts/lib/lambda.sh

port="$(watch_port)"
log="$(watch_log)"
ensure_cargo_lambda
if listening "$port"; then
    die "something already listens on 127.0.0.1:$port: stop it, or pick another port with WATCH_PORT"
fi
for function in $(lambda_functions); do
    say "building $function"
    cargo build --quiet --bin "$function"
done
localdb_start
trap localdb_stop EXIT
: > "$log"
say "serving the functions on http://127.0.0.1:$port (log: $log)"
set +e
# A key the api accepts (16+ characters), unless API_KEY says otherwise.
cargo lambda watch -A 127.0.0.1 -P "$port" \
    --env-var "DATABASE_URL=$DATABASE_URL" \
    --env-var METRICS_SINK=log \
    --env-var LOG_FORMAT="${LOG_FORMAT:-pretty}" \
    --env-var API_KEY="${API_KEY:-local-development-key}" \
    --env-var RUST_LOG="${RUST_LOG:-info}" 2>&1 | tee -a "$log"
