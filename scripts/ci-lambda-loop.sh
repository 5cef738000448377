#!/usr/bin/env bash
# CI: the cargo lambda loop as a new user meets it. Starts `make watch` on a free port with a
# throwaway state directory, sends one `make invoke-*` per function, checks each answer is
# the function's own (the api answers from the database, the others report their work), and
# proves an invoke fails fast with the function's own error when it cannot start. Stops
# everything on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/lambda.sh

state="$(mktemp -d /tmp/tickwatch-lambda-loop.XXXXXX)"
chmod 755 "$state"
export WATCH_PORT TICKWATCH_STATE_DIR="$state"
watcher=""
stop_watch() {
    [ -n "$watcher" ] || return 0
    kill -INT -- "-$watcher" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$watcher" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$watcher" 2>/dev/null || true
    watcher=""
}
cleanup() {
    stop_watch
    if [ -f "$state/pg/data/postmaster.pid" ]; then
        source scripts/lib/postgres.sh; require_pg; pg_stop "$state/pg"
    fi
    rm -rf "$state"
}
trap cleanup EXIT

# start_watch [ENV=VALUE...]: make watch in its own process group, waited for until it listens.
start_watch() {
    WATCH_PORT="$(free_port)"
    env "$@" setsid make watch >"$state/watch.out" 2>&1 &
    watcher=$!
    for _ in $(seq 900); do
        listening "$WATCH_PORT" && return 0
        kill -0 "$watcher" 2>/dev/null || { tail -30 "$state/watch.out" >&2; die "make watch exited"; }
        sleep 1
    done
    tail -30 "$state/watch.out" >&2
    die "make watch did not listen within 15 minutes"
}

# expect NAME PYTHON-EXPR: the last invoke's answer (parsed JSON `j`) must satisfy the expression.
expect() {
    python3 - "$state/answer" "$2" <<'PY' || { cat "$state/answer" >&2; die "$1: unexpected answer"; }
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
    say "PASS $1"
}

start_watch
# The migrator first: it sets up what the others log in to in the cloud (here: the same user).
make --no-print-directory invoke-migrator >"$state/answer"
expect "the migrator reports its migrations and roles" '"applied" in j and len(j["roles"]) > 0'
make --no-print-directory invoke-api >"$state/answer"
expect "the api answers from the database" \
    'j["statusCode"] == 404 and json.loads(j["body"])["error"]["code"] == "unknown_symbol"'
make --no-print-directory invoke-collector >"$state/answer"
expect "the collector reports its run" 'j["kind"] == "scheduled" and j["failed"] == 0'
make --no-print-directory invoke-detector >"$state/answer"
expect "the detector reports its run" '"series_scanned" in j and j["failures"] == []'
make --no-print-directory invoke-planner >"$state/answer"
expect "the planner answers with a plan" 'isinstance(j, dict)'
make --no-print-directory invoke-writer >"$state/answer"
expect "the writer reports which messages to retry" 'j["batchItemFailures"] == []'
stop_watch

# A key the api refuses: the invoke must fail at once with the api's own words.
start_watch API_KEY=too-short
started=$SECONDS
if make --no-print-directory invoke-api >"$state/answer" 2>&1; then
    cat "$state/answer" >&2; die "an api that cannot start answered"
fi
grep -q "api: cannot start: API_KEY is invalid" "$state/answer" \
    || { cat "$state/answer" >&2; die "the invoke did not report the api's own error"; }
[ $((SECONDS - started)) -lt 30 ] || die "the failing invoke took $((SECONDS - started)) s"
say "PASS an invoke of a function that cannot start fails at once with its error"
