#!/usr/bin/env bash
# Start-up benchmark: each release bootstrap, as built for Lambda, is started against a minimal
# local Lambda Runtime API and timed from process start to its first response, with its peak
# RSS, next to a hello-world Lambda built the same way, in the same run. Then, because
# wall-clock time on a shared machine is noisy, the same starts are counted in instructions,
# which load does not change. A throwaway PostgreSQL serves the functions that need one. Not
# run by CI.
#
# Per architecture (BENCH_ARCHES="x86_64 arm64" by default):
#   x86_64  runs natively; instructions counted by valgrind's callgrind.
#   arm64   cross-built with cargo-lambda's zig (the same per-function builds as `make build`)
#           and run under qemu-user (qemu-aarch64 with the arm64 glibc as its sysroot). The
#           time and the instruction count are the emulator's, so only their ratios to the arm64
#           hello-world, run the same way in the same run, are figures; the instructions are
#           counted from qemu's execution log (one block per instruction, chaining off) and go
#           into make bench's summary; the times and peak RSS (which includes the emulator's own)
#           are printed only. Without qemu-aarch64 or the sysroot the zips are still built and
#           sized, and the start-up is skipped with a line saying why.
# RUNS=15 sets the timed runs per binary, QEMU_LD_PREFIX the arm64 sysroot (default
# /usr/aarch64-linux-gnu).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/lambda.sh
source scripts/lib/bench.sh

runs="${RUNS:-15}"
arches="${BENCH_ARCHES:-x86_64 arm64}"
for arch in $arches; do lambda_target "$arch" >/dev/null; done
ensure_cargo_lambda
require_pg
cargo build --quiet -p tickwatch-local --bin bench-startup
bench="${CARGO_TARGET_DIR:-target}/debug/bench-startup"

work="$(mktemp -d /tmp/tickwatch-startup.XXXXXX)"
chmod 755 "$work"
trap 'pg_stop "$work/pg"; rm -rf "$work"' EXIT
port="$(free_port)"
pg_start "$work/pg" "$port"

zip_mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN {printf "%.2f MB", b / 1e6}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# stage ARCH: release-builds every function and the hello-world Lambda for ARCH, reports the
# zips, and unpacks each bootstrap into $work/ARCH/<name>/ (the next architecture's build
# overwrites target/lambda/).
stage() {
    local arch="$1" fn
    lambda_build "$arch"
    cargo lambda build --release --target "$(lambda_target "$arch")" --output-format binary \
        --lambda-dir target/lambda -p tickwatch-local --bin hello-lambda
    mkdir -p "$work/$arch/hello-world"
    cp target/lambda/hello-lambda/bootstrap "$work/$arch/hello-world/bootstrap"
    for fn in $(lambda_functions); do
        mkdir -p "$work/$arch/$fn" && unzip -q -o "target/lambda/$fn/bootstrap.zip" -d "$work/$arch/$fn"
        echo "$fn ($arch): zip $(zip_mb "target/lambda/$fn/bootstrap.zip")"
        summary_add "zipped package, $fn ($arch)" "$(zip_mb "target/lambda/$fn/bootstrap.zip")" "<= 3 MB"
    done
    echo "hello-world bootstrap ($arch): $(du -h "$work/$arch/hello-world/bootstrap" | cut -f1)"
}

# starts ARCH: the NAME=BOOTSTRAP@EVENT entries of ARCH's run, the baseline first.
starts() {
    local dir="$work/$1"
    echo "hello-world=$dir/hello-world/bootstrap@$work/empty.json"
    echo "api /openapi.json=$dir/api/bootstrap@$work/api-openapi.json"
    echo "api /health (db)=$dir/api/bootstrap@events/api-health.json"
    echo "collector (db)=$dir/collector/bootstrap@events/collector-scheduled.json"
    echo "detector (db)=$dir/detector/bootstrap@events/detector-scheduled.json"
}

# instructions_table ARCH COUNTER: one start of each entry counted by COUNTER (a function
# taking BENCH WORKDIR NAME BINARY EVENT and printing a count), as ratios to the first.
instructions_table() {
    local arch="$1" counter="$2" entry name rest bin event ir base="" ratio baseline
    echo
    echo "instructions to the first response ($arch, $counter; load $(load)):"
    printf '%-22s %16s %9s\n' "binary" "instructions" "vs first"
    while IFS= read -r entry; do
        name="${entry%%=*}"; rest="${entry#*=}"; bin="${rest%@*}"; event="${rest#*@}"
        ir="$("$counter" "$bench" "$work" "$name ($arch)" "$bin" "$event")" \
            || { echo "$name ($arch): instruction count failed" >&2; continue; }
        if [ -z "$base" ]; then base="$ir"; baseline="$name"; fi
        ratio="$(awk -v a="$ir" -v b="$base" 'BEGIN {printf "%.2f", a / b}')"
        printf '%-22s %16s %8sx\n' "$name" "$ir" "$ratio"
        [ "$name" = "$baseline" ] && continue
        summary_add "cold start instructions ($arch), $name / $baseline" "${ratio}x" "<= 2x"
    done < <(starts "$arch")
}

echo '{}' > "$work/empty.json"
sed 's|"/health"|"/openapi.json"|g' events/api-health.json > "$work/api-openapi.json"
export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
export METRICS_SINK=none LOG_FORMAT=json AWS_REGION=us-east-1 RUST_LOG=warn API_KEY=bench-key-0123456789abcdef
# The api as deployed: API Gateway's authorizer checks writes, so it builds no collector (no
# HTTP client, no source settings) at start.
export API_WRITE_AUTHORIZER=gateway

# As in the cloud, where the migrator applies the migrations once per deployment and every
# other function, built without them, only checks the schema version on its first use
# (DB_MIGRATE=false), the database is migrated once here and every start is timed against it.
pg_migrate "$DATABASE_URL"
export DB_MIGRATE=false

if [[ " $arches " == *" x86_64 "* ]]; then
    say "x86_64: build, then start-up natively"
    stage x86_64
    echo
    echo "x86_64 start-up, $runs runs each (load $(load)):"
    mapfile -t entries < <(starts x86_64)
    "$bench" --runs "$runs" --label x86_64 "${entries[@]}"
    if command -v valgrind >/dev/null; then
        instructions_table x86_64 callgrind_instructions
    else
        say "valgrind not found: x86_64 instruction counts skipped (apt-get install valgrind)"
    fi
fi

if [[ " $arches " == *" arm64 "* ]]; then
    echo
    if ! command -v rustup >/dev/null \
        && [ ! -d "$(rustc --print target-libdir --target aarch64-unknown-linux-gnu 2>/dev/null)" ]; then
        say "arm64 skipped: the aarch64-unknown-linux-gnu Rust target is missing and there is no rustup to add it"
    else
        say "arm64: cross-build with zig, then start-up under qemu-user"
        stage arm64
        if why="$(qemu_aarch64_missing)"; then
            say "arm64 start-up not measured (zip sizes only): $why"
        else
            mapfile -t entries < <(starts arm64)
            echo
            echo "arm64 start-up under $(qemu-aarch64 --version | head -1), $runs runs each (load $(load));"
            echo "emulated: printed, not summarised (qemu's own start of ~100 ms is in every row and"
            echo "presses the ratios towards 1; peak RSS includes qemu's); the instruction ratios are the figures:"
            BENCH_SUMMARY="" "$bench" --runs "$runs" --runner "$(qemu_aarch64_command)" "${entries[@]}"
            instructions_table arm64 qemu_instructions
        fi
    fi
fi
