#!/usr/bin/env bash
# Benchmarks the collector's backfill path against a plain COPY of the same rows, on a
# throwaway PostgreSQL cluster that it starts and stops. Not part of CI.
#   scripts/bench.sh [ROWS]     (default 1000000; a multiple of 1000)
# BENCH_BREAKDOWN=1 adds where the time goes: the same rows written batch by batch into twin
# tables with and without the symbol check and the insert trigger (and with the per-row foreign
# key `candles` had before), as COPY and as staging + ON CONFLICT.
# With DATABASE_URL set, that server is used instead (it must hold an empty database).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/bench.sh

command -v cargo >/dev/null || die "cargo not found: install Rust with rustup"
rows="${1:-1000000}"

RUN_DIR="$(mktemp -d /tmp/tickwatch-bench.XXXXXX)"
chmod 755 "$RUN_DIR"
cleanup() {
    local status=$?
    if [ -n "${PG_BIN:-}" ]; then pg_stop "$RUN_DIR/pg"; fi
    rm -rf "$RUN_DIR"
    exit "$status"
}
trap cleanup EXIT INT TERM

say "building the benchmark (bench profile)"
cargo build --profile bench -p tickwatch --features migrations --example bench_backfill  # the bench profile writes to target/release
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

if [ -z "${DATABASE_URL:-}" ]; then
    require_pg
    port="$(free_port)"
    pg_start "$RUN_DIR/pg" "$port"
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    say "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (fsync off, as for tests)"
fi
METRICS_SINK=none "$target_dir/release/examples/bench_backfill" "$rows" | tee "$RUN_DIR/backfill.txt"
ratio="$(awk '/^ratio upsert\/COPY:/ {print $3}' "$RUN_DIR/backfill.txt")"
summary_add "backfill upsert / binary COPY of the same rows ($rows candles)" "$ratio" ">= 0.8x"
