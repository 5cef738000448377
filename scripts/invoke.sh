#!/usr/bin/env bash
# Sends a sample event to a function served by `make watch`:
#   scripts/invoke.sh collector events/collector-scheduled.json
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/lambda.sh
function="${1:?usage: scripts/invoke.sh FUNCTION EVENT_FILE}"
event="${2:?usage: scripts/invoke.sh FUNCTION EVENT_FILE}"
[ -f "$event" ] || die "$event does not exist (the samples are in events/)"
ensure_cargo_lambda
curl -s -o /dev/null --max-time 2 http://127.0.0.1:9000/ \
    || die "nothing listens on 127.0.0.1:9000: start 'make watch' in another terminal first"
exec cargo lambda invoke -A 127.0.0.1 -P 9000 "$function" --data-file "$event"
