#!/usr/bin/env bash
# Start-up benchmark: each release bootstrap (x86_64, as built for Lambda) is started against a
# minimal local Lambda Runtime API and timed from process start to its first response, with
# its peak RSS, next to a hello-world Lambda built the same way, in the same run.
# A throwaway PostgreSQL serves the functions that need one. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/lambda.sh

runs="${RUNS:-15}"
ensure_cargo_lambda
require_pg
target="$(lambda_target x86_64)"
lambda_build x86_64
cargo lambda build --release --target "$target" --output-format binary \
    --lambda-dir target/lambda -p tickwatch-local --bin hello-lambda
cargo build --quiet -p tickwatch-local --bin bench-startup

work="$(mktemp -d /tmp/tickwatch-startup.XXXXXX)"
chmod 755 "$work"
trap 'pg_stop "$work/pg"; rm -rf "$work"' EXIT
port="$(free_port)"
pg_start "$work/pg" "$port"

for fn in collector detector api; do
    mkdir -p "$work/$fn" && unzip -q -o "target/lambda/$fn/bootstrap.zip" -d "$work/$fn"
    echo "$fn bootstrap: $(du -h "$work/$fn/bootstrap" | cut -f1), zip $(du -h "target/lambda/$fn/bootstrap.zip" | cut -f1)"
done
echo "hello-world bootstrap: $(du -h target/lambda/hello-lambda/bootstrap | cut -f1)"
echo '{}' > "$work/empty.json"
sed 's|"/health"|"/openapi.json"|g' events/api-health.json > "$work/api-openapi.json"

export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
export METRICS_SINK=none LOG_FORMAT=json AWS_REGION=us-east-1 RUST_LOG=warn API_KEY=bench-key-0123456789abcdef
"${CARGO_TARGET_DIR:-target}/debug/bench-startup" --runs "$runs" \
    "hello-world=target/lambda/hello-lambda/bootstrap@$work/empty.json" \
    "api /openapi.json=$work/api/bootstrap@$work/api-openapi.json" \
    "api /health (db)=$work/api/bootstrap@events/api-health.json" \
    "collector (db)=$work/collector/bootstrap@events/collector-scheduled.json" \
    "detector (db)=$work/detector/bootstrap@events/detector-scheduled.json"
