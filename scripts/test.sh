#!/usr/bin/env bash
# Runs the whole test suite against real services it starts itself:
#   * a throwaway PostgreSQL cluster (and a second one with TLS), unless DATABASE_URL is set;
#   * LocalStack on loopback, for the AWS SDK calls.
# Everything it started is stopped on exit, whether the tests pass or not.
# Extra arguments go to the test runner, e.g. `scripts/test.sh -E 'test(migrations)'`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/localstack.sh

command -v cargo >/dev/null || die "cargo not found: install Rust with rustup"
command -v curl >/dev/null || die "curl not found: install it with 'apt-get install curl'"
command -v python3 >/dev/null || die "python3 not found: install it with 'apt-get install python3'"
command -v "${CHROMIUM:-chromium}" >/dev/null || die "chromium not found: install it with 'apt-get install chromium chromium-driver'"
command -v "${CHROMEDRIVER:-chromedriver}" >/dev/null || die "chromedriver not found: install it with 'apt-get install chromium-driver'"

RUN_DIR="$(mktemp -d /tmp/tickwatch-test.XXXXXX)"
chmod 755 "$RUN_DIR"
# Screenshots and timings of the browser tests; kept after the run (the rest is not).
export TICKWATCH_TEST_ARTIFACTS="$RUN_DIR/artifacts"
KEEP_ARTIFACTS="${CARGO_TARGET_DIR:-target}/test-artifacts"
cleanup() {
    local status=$?
    if [ -d "$TICKWATCH_TEST_ARTIFACTS" ]; then
        rm -rf "$KEEP_ARTIFACTS" && mkdir -p "$(dirname "$KEEP_ARTIFACTS")"
        cp -r "$TICKWATCH_TEST_ARTIFACTS" "$KEEP_ARTIFACTS" && say "test artifacts in $KEEP_ARTIFACTS"
    fi
    localstack_stop
    if [ -n "${PG_BIN:-}" ]; then pg_stop "$RUN_DIR/pg"; pg_stop "$RUN_DIR/pg-tls"; fi
    rm -rf "$RUN_DIR"
    exit "$status"
}
trap cleanup EXIT INT TERM

started=$(date +%s)
if [ -n "${DATABASE_URL:-}" ]; then
    say "using the PostgreSQL at DATABASE_URL"
    export TICKWATCH_TEST_DATABASE_URL="$DATABASE_URL"
else
    require_pg
    port="$(free_port)"; tls_port="$(free_port)"
    # pg_stat_statements lets the API tests count the statements each route runs.
    PG_EXTRA_OPTS="-c shared_preload_libraries=pg_stat_statements" pg_start "$RUN_DIR/pg" "$port"
    pg_start "$RUN_DIR/pg-tls" "$tls_port" tls
    export TICKWATCH_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    export TICKWATCH_TEST_TLS_DATABASE_URL="postgres://postgres@localhost:$tls_port/postgres"
    export TICKWATCH_TEST_TLS_CA_FILE="$RUN_DIR/pg-tls/certs/ca.crt"
    say "PostgreSQL on 127.0.0.1:$port (TLS cluster on $tls_port)"
fi
unset DATABASE_URL
# The fault tests start (and freeze, stop and kill) PostgreSQL clusters of their own.
if [ -z "${PG_BIN:-}" ]; then require_pg; fi
export TICKWATCH_TEST_PG_BIN="$PG_BIN"

aws_port="$(free_port)"
localstack_start "$RUN_DIR/localstack" "$aws_port"
export TICKWATCH_TEST_AWS_ENDPOINT="http://127.0.0.1:$aws_port"
say "LocalStack on $TICKWATCH_TEST_AWS_ENDPOINT (ready after $(( $(date +%s) - started )) s)"

set +e
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast --failure-output final "$@" 2>&1 | tee "$RUN_DIR/tests.log"
else
    cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$RUN_DIR/tests.log"
fi
status=${PIPESTATUS[0]}
set -e
# Totals from either runner's summary lines.
count() { { grep -oE "[0-9]+ $1" || true; } | awk '{s += $1} END {print s + 0}'; }
passed=$(count passed < "$RUN_DIR/tests.log")
failed=$(count failed < "$RUN_DIR/tests.log")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if summary="$(grep -E 'Summary \[' "$RUN_DIR/tests.log")"; then
    # nextest states the totals on its summary line; per-test lines would double-count.
    passed=$(count passed <<< "$summary")
    failed=$(count failed <<< "$summary")
fi
# The whole suite (no test filter given) also fuzzes the API against its OpenAPI document.
if [ "$status" -eq 0 ] && [ $# -eq 0 ] && [ -z "${TICKWATCH_SKIP_FUZZ:-}" ]; then
    if scripts/fuzz-api.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
fi
say "tests finished in $(( $(date +%s) - started )) s"
echo "tests: $passed passed, $failed failed"
exit "$status"
