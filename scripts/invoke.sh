#!/usr/bin/env bash
# Sends a sample event to a function served by `make watch` and prints its answer:
#   scripts/invoke.sh collector events/collector-scheduled.json
# Fails at once, with the function's own words, when the function could not start or did not
# compile (the watcher would otherwise leave the invoke waiting for minutes), and after
# INVOKE_TIMEOUT seconds (default 300) without an answer.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/lambda.sh
function="${1:?usage: scripts/invoke.sh FUNCTION EVENT_FILE}"
event="${2:?usage: scripts/invoke.sh FUNCTION EVENT_FILE}"
[ -f "$event" ] || die "$event does not exist (the samples are in events/)"
port="$(watch_port)"
log="$(watch_log)"
ensure_cargo_lambda
listening "$port" \
    || die "nothing listens on 127.0.0.1:$port: start 'make watch' in another terminal first"
[ -f "$log" ] || die "no log of make watch at $log: start the watcher with 'make watch'"

explain() {
    echo "error: $function cannot answer:" >&2
    sed 's/^/  /' <<< "$1" >&2
    echo "  (fix it, then restart 'make watch'; its output is in $log)" >&2
    exit 1
}
if failure="$(watch_failure "$function" "$log")"; then explain "$failure"; fi

answer="$(mktemp)"
trap 'rm -f "$answer"' EXIT
cargo lambda invoke -A 127.0.0.1 -P "$port" "$function" --data-file "$event" >"$answer" 2>&1 &
invoke=$!
deadline=$((SECONDS + ${INVOKE_TIMEOUT:-300}))
while kill -0 "$invoke" 2>/dev/null; do
    if failure="$(watch_failure "$function" "$log")"; then
        kill "$invoke" 2>/dev/null || true
        explain "$failure"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        kill "$invoke" 2>/dev/null || true
        die "$function did not answer within ${INVOKE_TIMEOUT:-300} s; see $log"
    fi
    sleep 0.2
done
status=0
wait "$invoke" || status=$?
cat "$answer"
exit "$status"
