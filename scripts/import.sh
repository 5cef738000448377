#!/usr/bin/env bash
# make import SYMBOL=… FILE=…: imports a CSV of candles into make run's local database (the
# same cluster, started here if it is not running), for files of any size.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/localdb.sh

[ -n "${SYMBOL:-}" ] && [ -n "${FILE:-}" ] || die "usage: make import SYMBOL=BTC FILE=history.csv"
[ -r "$FILE" ] || die "cannot read $FILE"
command -v cargo >/dev/null || die "cargo not found: install Rust with rustup"
localdb_start
trap localdb_stop EXIT
cargo build --quiet -p tickwatch-local --bin import
"${CARGO_TARGET_DIR:-target}/debug/import" "$SYMBOL" "$FILE"
