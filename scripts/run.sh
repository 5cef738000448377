#!/usr/bin/env bash
# Runs the whole pipeline on this machine: a local PostgreSQL (started here and kept between
# runs, unless DATABASE_URL is set), the synthetic source, the collector and detector on a
# timer, and the API on http://127.0.0.1:8080. No cloud account, no network.
# Ctrl-C stops everything and keeps the data for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/localdb.sh

command -v cargo >/dev/null || die "cargo not found: install Rust with rustup"
command -v python3 >/dev/null || die "python3 not found: install it with 'apt-get install python3'"

localdb_start
trap localdb_stop EXIT

export METRICS_SINK="${METRICS_SINK:-log}"
export RUST_LOG="${RUST_LOG:-info,tickwatch::metrics=warn}"
cargo build --quiet -p tickwatch-local
# Not exec: the trap above must run after the runner exits to stop the database.
set +e
"${CARGO_TARGET_DIR:-target}/debug/tickwatch-local" "$@"
status=$?
set -e
exit "$status"
