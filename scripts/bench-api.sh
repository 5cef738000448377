#!/usr/bin/env bash
# Benchmarks the API against PostgreSQL itself, in one run on one machine:
#   * a throwaway PostgreSQL with a million candles (10 symbols x 100,000 minutes);
#   * the api binary (bench profile) on loopback, under wrk at 32 connections, for
#     `latest` and `history?limit=100`;
#   * pgbench running the very same SQL (shared/sql/history.sql) at the same concurrency;
# then prints requests/s, p50 and p99 side by side and the API/pgbench ratio; and, at one
# connection, what a warm request pays on top of the query itself (api p50 - pgbench p50:
# what a Lambda instance, which serves one request at a time, adds to every request).
# Each measured run follows a short warm-up, so the pool's connections are open and their
# statements prepared: the figures are the steady state, not the first second.
# A fair split of the CPUs: with two or more, PostgreSQL runs on one CPU and the client side
# on another — pgbench alone in its run, wrk and the api together in theirs — so both runs
# give the database the same CPU and the ratio measures what the API and HTTP add on the
# client side (BENCH_PIN=0 lets the scheduler place everything, as before). The output says
# which split was used, with the load average before each run: the machine may be shared.
# Each endpoint is measured in BENCH_ROUNDS (default 3) rounds, each an api run then a pgbench
# run; the round with the median ratio is printed, with every round's ratio beside it, since a
# single pair moves by a tenth between runs on a shared machine (both sides do).
# BENCH_SECONDS (default 15) sets each run's length; BENCH_BIN skips the build and runs that
# binary; API_ENV adds settings to the api's environment (e.g. "DB_READ_LANES=0" to compare).
# Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/bench.sh

command -v wrk >/dev/null || die "wrk not found: install it with 'apt-get install wrk'"
command -v cargo >/dev/null || die "cargo not found: install Rust with rustup"
SECONDS_PER_RUN="${BENCH_SECONDS:-15}"
ROUNDS="${BENCH_ROUNDS:-3}"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a whole number of rounds, at least 1 (got '$ROUNDS')"
CONNECTIONS=32
PIN="${BENCH_PIN:-1}"
[ "$(nproc)" -ge 2 ] || PIN=0
if [ "$PIN" = 1 ]; then
    command -v taskset >/dev/null || die "taskset not found: install it with 'apt-get install util-linux' (or run with BENCH_PIN=0)"
    DB_CPU=1
    CLIENT_CPU=0
    on_client_cpu() { taskset -c "$CLIENT_CPU" "$@"; }
    # One load-generator thread each: the client side has one CPU in both runs.
    GENERATOR_THREADS=1
else
    on_client_cpu() { "$@"; }
    GENERATOR_THREADS=2
fi
load() { cut -d' ' -f1 /proc/loadavg; }

RUN_DIR="$(mktemp -d /tmp/tickwatch-bench.XXXXXX)"
chmod 755 "$RUN_DIR"
API_PID=""
# The api's process: API_PID is the background subshell that started it; the api is that
# subshell's child (on_client_cpu is a function, so bash forks for it), or the subshell itself
# where bash ran the command in place.
api_pid() {
    local child
    child="$(pgrep -P "$API_PID" | head -1 || true)"
    echo "${child:-$API_PID}"
}
cleanup() {
    local status=$?
    if [ -n "$API_PID" ]; then
        # The api itself first: it runs as a child of the background subshell API_PID, and
        # would outlive it (a stray api after every run).
        kill "$(api_pid)" 2>/dev/null || true
        kill "$API_PID" 2>/dev/null || true
        wait "$API_PID" 2>/dev/null || true
    fi
    if [ -n "${PG_BIN:-}" ]; then pg_stop "$RUN_DIR/pg"; fi
    rm -rf "$RUN_DIR"
    exit "$status"
}
trap cleanup EXIT INT TERM

if [ -n "${BENCH_BIN:-}" ]; then
    bin="$BENCH_BIN"  # a prebuilt binary, e.g. to compare builds
else
    say "building the api binary (bench profile)"
    cargo build --quiet --profile bench -p api --bin api
    bin="${CARGO_TARGET_DIR:-target}/release/api"
fi

require_pg
pg_port="$(free_port)"
pg_start "$RUN_DIR/pg" "$pg_port"
if [ "$PIN" = 1 ]; then
    # The postmaster and its processes; every backend forked later inherits the CPU.
    postmaster="$(head -1 "$RUN_DIR/pg/data/postmaster.pid")"
    for pid in "$postmaster" $(pgrep -P "$postmaster"); do taskset -pc "$DB_CPU" "$pid" >/dev/null; done
fi
db_url="postgres://postgres@127.0.0.1:$pg_port/postgres"
pg_migrate "$db_url"
psql() { "$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 "$db_url" "$@"; }

api_port="$(free_port)"
base="http://127.0.0.1:$api_port"
# shellcheck disable=SC2086 # API_ENV is a list of NAME=value words
on_client_cpu env AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 \
    DATABASE_URL="$db_url" PORT="$api_port" DB_POOL_SIZE="$CONNECTIONS" METRICS_SINK=none \
    LOG_FORMAT=json RUST_LOG=error ${API_ENV:-} "$bin" >"$RUN_DIR/api.log" 2>&1 &
API_PID=$!
for _ in $(seq 1 100); do curl -fsS "$base/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$base/health" >/dev/null || { cat "$RUN_DIR/api.log" >&2; die "the api did not start"; }

say "loading a million candles"
psql -c "
SET session_replication_role = replica;
INSERT INTO symbols (symbol, asset_class, provider, provider_id, interval)
    SELECT 'S' || i, 'crypto', 'synthetic', 's' || i, '1m' FROM generate_series(0, 9) i;
INSERT INTO candles (symbol, interval, open_time, open, high, low, close, volume, source)
    SELECT 'S' || (i % 10), '1m', timestamptz '2026-01-01' + (i / 10) * interval '1 minute',
           100 + (i % 97) / 100.0, 102, 99, 101, 1.5, 'synthetic'
    FROM generate_series(0, 999999) i;
SET session_replication_role = origin;"
psql -c "VACUUM ANALYZE"

# The API asks for limit + 1 rows (to know whether a next page exists); pgbench does the same.
statement() {
    sed -e "s/\$1/'S3'/" -e "s/\$2::text/NULL::text/g" -e "s/\$3/'0001-01-01T00:00:00Z'/" \
        -e "s/\$4/'9999-12-31T23:59:59Z'/" -e "s/\$5/$1/" shared/sql/history.sql
}

# The api's CPU time so far (user + system), in clock ticks.
api_cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$(api_pid)/stat"
}

# run_wrk URL [CONNECTIONS]: "req/s p50 p99 cpu wrk_cpu" after a warm-up of the same shape,
# where cpu is the api's own CPU time per request in microseconds: unlike req/s and latency,
# which the machine's other load moves, it counts only the api's work. wrk_cpu is the load
# generator's, which shares the api's CPU: the two add up to what one request costs that CPU.
run_wrk() {
    local connections="${2:-$CONNECTIONS}" threads="$GENERATOR_THREADS"
    [ "$connections" -lt 2 ] && threads=1
    on_client_cpu wrk -t"$threads" -c"$connections" -d2s "$1" >/dev/null
    local before after
    before="$(api_cpu_ticks)"
    # In a subshell of its own, whose `times` then reports wrk's CPU time alone.
    (
        on_client_cpu wrk -t"$threads" -c"$connections" -d"${SECONDS_PER_RUN}s" --latency "$1" >"$RUN_DIR/wrk.txt"
        times >"$RUN_DIR/wrk.times"
    )
    after="$(api_cpu_ticks)"
    local rps p50 p99 requests cpu wrk_cpu
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$RUN_DIR/wrk.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$RUN_DIR/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$RUN_DIR/wrk.txt")
    requests=$(awk '/ requests in / {print $1}' "$RUN_DIR/wrk.txt")
    cpu=$(awk -v a="$before" -v b="$after" -v n="$requests" -v hz="$(getconf CLK_TCK)" \
        'BEGIN {printf "%.0fus", (b - a) / hz * 1e6 / n}')
    # The children's line of `times`: "XmY.YYYs XmY.YYYs" (user, system).
    wrk_cpu=$(awk -v n="$requests" 'NR == 2 {
        total = 0
        for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); total += t[1] * 60 + t[2] }
        printf "%.0fus", total * 1e6 / n
    }' "$RUN_DIR/wrk.times")
    if grep -q "Non-2xx" "$RUN_DIR/wrk.txt"; then cat "$RUN_DIR/wrk.txt" >&2; die "wrk saw errors"; fi
    echo "$rps $p50 $p99 $cpu $wrk_cpu"
}

# run_pgbench LIMIT [CONNECTIONS]: "tps p50 p99" of the API's own statement.
run_pgbench() {
    local connections="${2:-$CONNECTIONS}" threads="$GENERATOR_THREADS"
    [ "$connections" -lt 2 ] && threads=1
    statement "$1" >"$RUN_DIR/q.sql"
    on_client_cpu "$PG_BIN/pgbench" -n -M prepared -c "$connections" -j "$threads" -T 2 -f "$RUN_DIR/q.sql" "$db_url" >/dev/null 2>&1 || true
    on_client_cpu "$PG_BIN/pgbench" -n -M prepared -c "$connections" -j "$threads" -T "$SECONDS_PER_RUN" -f "$RUN_DIR/q.sql" \
        --log --log-prefix="$RUN_DIR/pgb" "$db_url" >"$RUN_DIR/pgbench.txt" 2>&1 \
        || { cat "$RUN_DIR/pgbench.txt" >&2; die "pgbench failed"; }
    local tps p50 p99
    tps=$(awk -F' = ' '/^tps/ {split($2, a, " "); print a[1]}' "$RUN_DIR/pgbench.txt")
    # Per-transaction log: the third column is the latency in microseconds.
    read -r p50 p99 < <(cat "$RUN_DIR"/pgb.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.3fms %.3fms\n", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}')
    rm -f "$RUN_DIR"/pgb.*
    echo "$tps $p50 $p99"
}

printf '\n%-22s %12s %9s %9s %14s %9s %9s %7s %11s %12s %12s  %s\n' endpoint "api req/s" p50 p99 "pgbench tps" p50 p99 ratio "load (1 min)" "api CPU/req" "wrk CPU/req" "every round's ratio"
for case in "latest|/v1/prices/S3/latest|1" "history?limit=100|/v1/prices/S3/history?limit=100|101"; do
    IFS='|' read -r name path limit <<<"$case"
    curl -fsS "$base$path" >/dev/null || die "GET $path failed"
    : >"$RUN_DIR/rounds"
    for _ in $(seq 1 "$ROUNDS"); do
        api_load="$(load)"
        read -r rps ap50 ap99 cpu wrk_cpu < <(run_wrk "$base$path")
        pg_load="$(load)"
        read -r tps pp50 pp99 < <(run_pgbench "$limit")
        ratio=$(awk -v a="$rps" -v b="$tps" 'BEGIN {printf "%.2f", a / b}')
        echo "$ratio $rps $ap50 $ap99 $tps $pp50 $pp99 $api_load/$pg_load $cpu $wrk_cpu" >>"$RUN_DIR/rounds"
    done
    # The round with the median ratio (the lower middle one of an even count).
    read -r ratio rps ap50 ap99 tps pp50 pp99 loads cpu wrk_cpu < <(sort -n "$RUN_DIR/rounds" | sed -n "$(((ROUNDS + 1) / 2))p")
    every="$(cut -d' ' -f1 "$RUN_DIR/rounds" | sed 's/$/x/' | paste -sd' ')"
    printf '%-22s %12s %9s %9s %14.0f %9s %9s %7s %11s %12s %12s  %s\n' "$name" "$rps" "$ap50" "$ap99" "$tps" "$pp50" "$pp99" "${ratio}x" "$loads" "$cpu" "$wrk_cpu" "$every"
    summary_add "$name, $CONNECTIONS connections: api req/s / pgbench tps (median of $ROUNDS rounds)" "${ratio}x" ">= 0.5x"
    summary_add "$name, $CONNECTIONS connections: api CPU per request (not a ratio: load-independent)" "$cpu" "lower"
    summary_add "$name, $CONNECTIONS connections: wrk CPU per request, on the api's CPU" "$wrk_cpu" "-"
    summary_add "$name, $CONNECTIONS connections: api p99 (pgbench p99)" "$ap99 ($pp99)" "$([ "$limit" = 1 ] && echo '< 10 ms' || echo '< 20 ms')"
done

# One connection, warm: the API's own cost on top of the query, per request: the API's
# median against pgbench's mean. At one connection pgbench's per-transaction log reads its
# clock lazily (most transactions are logged as 0 us), so its median cannot be had; its mean
# (elapsed time / transactions) is exact, and at one connection close to its median.
read -r _ ap50 _ _ _ < <(run_wrk "$base/v1/prices/S3/latest" 1)
run_pgbench 1 1 >/dev/null
pg_mean="$(awk -F' = ' '/^latency average/ {split($2, a, " "); print a[1]}' "$RUN_DIR/pgbench.txt")"
overhead=$(awk -v a="$(to_ms "$ap50")" -v p="$pg_mean" 'BEGIN {printf "%.3f", a - p}')
printf '%-22s %12s %9s %9s %14s %9s\n' "latest, 1 connection" "" "$ap50" "" "mean" "${pg_mean}ms"
printf 'warm request overhead at 1 connection (api p50 - pgbench mean): %s ms\n' "$overhead"
summary_add "latest, 1 connection, warm: api p50 - pgbench mean latency" "$overhead ms" "< 0.3 ms"
echo
if [ "$PIN" = 1 ]; then
    split="PostgreSQL pinned to CPU $DB_CPU; the load generator (one thread) and the api pinned to CPU $CLIENT_CPU"
    summary_add "api and pgbench runs: CPUs for the database / the client side" "1 / 1 (pinned)" "same in both"
else
    split="nothing pinned: the api, PostgreSQL and the load generator share $(nproc) CPUs"
fi
say "$CONNECTIONS connections, ${SECONDS_PER_RUN} s per run, $ROUNDS rounds per endpoint; $split; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
