#!/usr/bin/env bash
# Start-up benchmark: each release bootstrap (x86_64, as built for Lambda) is started against a
# minimal local Lambda Runtime API and timed from process start to its first response, with
# its peak RSS, next to a hello-world Lambda built the same way, in the same run. Then, because
# wall-clock time on a shared machine is noisy, the same starts are counted in instructions
# under valgrind (callgrind), which load does not change. Then the arm64 zips are built and
# their sizes reported; arm64 start time is measured only where qemu-aarch64 can run them.
# A throwaway PostgreSQL serves the functions that need one. Not run by CI.
#   BENCH_ARCHES="x86_64 arm64" (default) picks the architectures; RUNS=15 the timed runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/lambda.sh
source scripts/lib/bench.sh

runs="${RUNS:-15}"
arches="${BENCH_ARCHES:-x86_64 arm64}"
ensure_cargo_lambda
require_pg
target="$(lambda_target x86_64)"
lambda_build x86_64
cargo lambda build --release --target "$target" --output-format binary \
    --lambda-dir target/lambda -p tickwatch-local --bin hello-lambda
cargo build --quiet -p tickwatch-local --bin bench-startup

work="$(mktemp -d /tmp/tickwatch-startup.XXXXXX)"
chmod 755 "$work"
trap 'pg_stop "$work/pg"; rm -rf "$work"' EXIT
port="$(free_port)"
pg_start "$work/pg" "$port"

zip_mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN {printf "%.2f MB", b / 1e6}'; }
report_zips() {
    local arch="$1" fn
    for fn in $(lambda_functions); do
        echo "$fn ($arch): zip $(zip_mb "target/lambda/$fn/bootstrap.zip")"
        summary_add "zipped package, $fn ($arch)" "$(zip_mb "target/lambda/$fn/bootstrap.zip")" "<= 3 MB"
    done
}

for fn in $(lambda_functions); do
    mkdir -p "$work/$fn" && unzip -q -o "target/lambda/$fn/bootstrap.zip" -d "$work/$fn"
done
report_zips x86_64
echo "hello-world bootstrap: $(du -h target/lambda/hello-lambda/bootstrap | cut -f1)"
echo '{}' > "$work/empty.json"
sed 's|"/health"|"/openapi.json"|g' events/api-health.json > "$work/api-openapi.json"

export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
export METRICS_SINK=none LOG_FORMAT=json AWS_REGION=us-east-1 RUST_LOG=warn API_KEY=bench-key-0123456789abcdef
# The api as deployed: API Gateway's authorizer checks writes, so it builds no collector (no
# HTTP client, no source settings) at start.
export API_WRITE_AUTHORIZER=gateway
entries=(
    "hello-world=target/lambda/hello-lambda/bootstrap@$work/empty.json"
    "api /openapi.json=$work/api/bootstrap@$work/api-openapi.json"
    "api /health (db)=$work/api/bootstrap@events/api-health.json"
    "collector (db)=$work/collector/bootstrap@events/collector-scheduled.json"
    "detector (db)=$work/detector/bootstrap@events/detector-scheduled.json"
)
bench="${CARGO_TARGET_DIR:-target}/debug/bench-startup"
# As in the cloud, where the migrator runs once per deployment and every other function starts
# with DB_MIGRATE=false: migrate once here, then time the starts without the migration check
# (building refinery's runner costs about four million instructions, more than the rest).
BENCH_SUMMARY="" "$bench" --runs 1 "migrate=$work/detector/bootstrap@events/detector-scheduled.json" >/dev/null
export DB_MIGRATE=false
"$bench" --runs "$runs" "${entries[@]}"

# Instructions from process start to the first response, one start each under callgrind
# (the database is already migrated, as on a deployment).
if command -v valgrind >/dev/null; then
    echo
    printf '%-22s %16s %9s\n' "binary" "instructions" "vs first"
    base=""
    for entry in "${entries[@]}"; do
        name="${entry%%=*}"; rest="${entry#*=}"; bin="${rest%@*}"; event="${rest#*@}"
        ir="$(callgrind_instructions "$bench" "$work" "$name" "$bin" "$event")" \
            || { echo "$name: callgrind run failed" >&2; continue; }
        base="${base:-$ir}"
        ratio="$(awk -v a="$ir" -v b="$base" 'BEGIN {printf "%.2f", a / b}')"
        printf '%-22s %16s %8sx\n' "$name" "$ir" "$ratio"
        [ "$ir" = "$base" ] && [ "$name" = "${entries[0]%%=*}" ] && continue
        summary_add "cold start instructions, $name / ${entries[0]%%=*}" "${ratio}x" "<= 2x"
    done
else
    say "valgrind not found: instruction counts skipped (apt-get install valgrind)"
fi

if [[ " $arches " == *" arm64 "* ]]; then
    echo
    lambda_build arm64
    report_zips arm64
    if command -v qemu-aarch64 >/dev/null; then
        say "arm64 start times under qemu-aarch64 are emulated: sizes are the arm64 figures to compare"
    else
        say "arm64 start time not measured: qemu-aarch64 is not installed (sizes only)"
    fi
fi
