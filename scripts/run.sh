#!/usr/bin/env bash
# Runs the whole pipeline on this machine: a local PostgreSQL (started here and kept between
# runs, unless DATABASE_URL is set), the synthetic source, the collector and detector on a
# timer, and the API on http://127.0.0.1:8080. No cloud account, no network.
# Ctrl-C stops everything and keeps the data for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh

command -v cargo >/dev/null || die "cargo not found: install Rust with rustup"
command -v python3 >/dev/null || die "python3 not found: install it with 'apt-get install python3'"

if [ -z "${DATABASE_URL:-}" ]; then
    require_pg
    state="${TICKWATCH_STATE_DIR:-$PWD/.tickwatch}"
    # As root the server runs as postgres, which must be able to reach the data directory.
    if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$(dirname "$state")" 2>/dev/null; then
        state="/var/tmp/tickwatch-$(echo "$PWD" | cksum | cut -d' ' -f1)"
    fi
    pg_dir="$state/pg"
    if [ -f "$pg_dir/port" ] && pg_run "$PG_BIN/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1; then
        port="$(cat "$pg_dir/port")"
        say "reusing the local PostgreSQL on 127.0.0.1:$port ($pg_dir)"
        started_pg=0
    else
        port="$(cat "$pg_dir/port" 2>/dev/null || free_port)"
        pg_start "$pg_dir" "$port"
        echo "$port" > "$pg_dir/port"
        say "started a local PostgreSQL on 127.0.0.1:$port ($pg_dir)"
        started_pg=1
    fi
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    stop_pg() { if [ "$started_pg" = 1 ]; then say "stopping PostgreSQL (data kept in $pg_dir)"; pg_stop "$pg_dir"; fi; }
    trap stop_pg EXIT
fi

export METRICS_SINK="${METRICS_SINK:-log}"
export RUST_LOG="${RUST_LOG:-info,tickwatch::metrics=warn}"
cargo build --quiet -p tickwatch-local
# Not exec: the trap above must run after the runner exits to stop the database.
set +e
"${CARGO_TARGET_DIR:-target}/debug/tickwatch-local" "$@"
status=$?
set -e
exit "$status"
