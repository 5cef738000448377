#!/usr/bin/env bash
# Fuzzes the API with schemathesis, driven by the API's own OpenAPI document:
#   a throwaway PostgreSQL, the api binary on loopback (as `axum::serve` runs it locally),
#   a little seed data, then schemathesis with a bounded number of examples per operation.
# Fails on any 5xx and on any response that breaks the documented schema.
# FUZZ_EXAMPLES (default 25) and FUZZ_SEED (default fixed, for reproducible CI) tune the run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/schemathesis.sh

command -v cargo >/dev/null || die "cargo not found: install Rust with rustup"
command -v curl >/dev/null || die "curl not found: install it with 'apt-get install curl'"

RUN_DIR="$(mktemp -d /tmp/tickwatch-fuzz.XXXXXX)"
chmod 755 "$RUN_DIR"
API_PID=""
cleanup() {
    local status=$?
    if [ -n "$API_PID" ]; then kill "$API_PID" 2>/dev/null || true; wait "$API_PID" 2>/dev/null || true; fi
    if [ -n "${PG_BIN:-}" ]; then pg_stop "$RUN_DIR/pg"; fi
    rm -rf "$RUN_DIR"
    exit "$status"
}
trap cleanup EXIT INT TERM

st="$(schemathesis_venv)"
say "building the api binary"
cargo build --quiet -p api --bin api
bin="${CARGO_TARGET_DIR:-target}/debug/api"

require_pg
pg_port="$(free_port)"
pg_start "$RUN_DIR/pg" "$pg_port"
db_url="postgres://postgres@127.0.0.1:$pg_port/postgres"
pg_migrate "$db_url"

key="fuzz-key-$(date +%s)-0123456789"
api_port="$(free_port)"
base="http://127.0.0.1:$api_port"
# No instance metadata and no AWS calls: everything stays on loopback.
AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 \
DATABASE_URL="$db_url" PORT="$api_port" API_KEY="$key" METRICS_SINK=none LOG_FORMAT=json \
    RUST_LOG="${RUST_LOG:-warn}" "$bin" >"$RUN_DIR/api.log" 2>&1 &
API_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$base/health" >/dev/null 2>&1 && break
    kill -0 "$API_PID" 2>/dev/null || { cat "$RUN_DIR/api.log" >&2; die "the api exited at start"; }
    sleep 0.1
done
curl -fsS "$base/health" >/dev/null || { cat "$RUN_DIR/api.log" >&2; die "the api did not become healthy"; }

say "seeding"
auth=(-H "Authorization: Bearer $key" -H "Content-Type: application/json")
curl -fsS -X PUT "${auth[@]}" "$base/v1/symbols/BTC" \
    -d '{"asset_class":"crypto","provider":"synthetic","provider_id":"btc","interval":"1h"}' >/dev/null
candles=$(python3 -c 'import json; print(json.dumps({"candles": [{"open_time": "2026-01-01T%02d:00:00Z" % h, "open": "100", "high": "101.5", "low": "99", "close": str(100 + h / 10), "volume": "2"} for h in range(24)]}))')
curl -fsS -X POST "${auth[@]}" "$base/v1/prices/BTC/candles" -d "$candles" >/dev/null
"$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 "$db_url" -c "
    INSERT INTO anomalies (symbol, interval, start_time, end_time, peak_time, candles, score, severity, kind, methods, details)
    SELECT 'BTC', '1h', t, t + interval '1 hour', t, 2, 0.6, 'high', 'spike', ARRAY['zscore', 'iqr'], '{\"peak\": {\"p\": 1e-6}}'
    FROM generate_series(0, 23, 4) h, LATERAL (SELECT timestamptz '2026-01-01' + h * interval '1 hour' AS t) at;
    INSERT INTO candle_scores (symbol, interval, open_time, p, score, severity, readings)
    SELECT symbol, interval, open_time, 0.01, 0.1, NULL, '{\"zscore\": {\"statistic\": 1.5, \"p\": 0.01, \"direction\": 1}}'
    FROM candles WHERE symbol = 'BTC'" >/dev/null

say "schemathesis: ${FUZZ_EXAMPLES:-25} examples per operation"
started=$(date +%s)
# One worker: threads parsing lambdas at once trip a CPython 3.11 AST bug inside hypothesis.
# Run from the scratch directory: schemathesis and hypothesis keep caches in the working one.
(cd "$RUN_DIR" && "$st" run "$base/openapi.json" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "${FUZZ_EXAMPLES:-25}" \
    --seed "${FUZZ_SEED:-20261122}" \
    --generation-database none \
    --workers 1 \
    --request-timeout 10 \
    --no-color \
    -H "Authorization: Bearer $key") \
    || { say "api log (last 40 lines):"; tail -40 "$RUN_DIR/api.log" >&2; exit 1; }
say "fuzzing finished in $(( $(date +%s) - started )) s"
