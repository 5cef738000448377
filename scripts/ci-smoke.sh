#!/usr/bin/env bash
# CI: starts `make run` on a throwaway state directory and a free port, waits for the API,
# runs scripts/smoke.sh against it, then stops it with Ctrl-C (SIGINT) as a person would.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

state="$(mktemp -d /tmp/tickwatch-smoke.XXXXXX)"
chmod 755 "$state"
port="$(free_port)"
key="smoke-key-$(date +%s)-ci-only"
log="$state/run.log"
TICKWATCH_STATE_DIR="$state" PORT="$port" API_KEY="$key" TICK_SECONDS=5 setsid make run >"$log" 2>&1 &
runner=$!
stop() {
    kill -INT -- "-$runner" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$runner" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$runner" 2>/dev/null || true
    # make run stops its database on Ctrl-C; make sure of it before removing the directory.
    if [ -f "$state/pg/data/postmaster.pid" ]; then
        source scripts/lib/postgres.sh; require_pg; pg_stop "$state/pg"
    fi
    rm -rf "$state"
}
trap stop EXIT

for _ in $(seq 600); do
    grep -q "tickwatch is running" "$log" && break
    kill -0 "$runner" 2>/dev/null || { tail -30 "$log" >&2; die "make run exited before the API came up"; }
    sleep 1
done
grep -q "tickwatch is running" "$log" || { tail -30 "$log" >&2; die "the API did not come up within 10 minutes"; }
# One detector run follows the backfill; give it a tick.
sleep 8
scripts/smoke.sh "http://127.0.0.1:$port" "$key"
