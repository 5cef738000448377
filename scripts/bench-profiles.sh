#!/usr/bin/env bash
# Release-profile comparison, to pick `[profile.release]` with numbers: builds one function
# (the api by default) under each opt-level / LTO / codegen-units setting given and reports,
# per setting, in one run:
#   * the build time of that function from scratch (dependencies included), as CI pays it;
#   * the zipped package (binary stripped, deflated as cargo-lambda zips it);
#   * the instructions of a cold start to the first response (callgrind; /health with a
#     database for the api), which load does not change;
#   * for the api, `history?limit=100` and `latest` req/s against pgbench from
#     scripts/bench-api.sh, so a smaller binary is not bought with a slower API.
# Each setting is a cargo profile defined on the command line (inheriting `release`, unstripped
# so `nm --size-sort` can say where the bytes go), built in its own directory of the target
# dir, removed after its row unless KEEP_BUILDS=1. Not run by CI (about 10 minutes a row).
#   PROFILES="3:fat:1 s:fat:1 3:fat:1:z 3:fat:1:z:tokio,hyper ..."
#   (opt-level:lto:codegen-units[:dependencies' opt-level[:packages kept at the first]]: the
#   fourth field is `[profile.*.package."*"]`, every crate outside the workspace, default the
#   first field; the fifth lists dependencies that keep the first field's level; the named
#   package levels of `[profile.release]` carry over), BENCH_FUNCTION=api,
#   BENCH_SECONDS=8 (per API run), BENCH_API=0 skips the API runs, BENCH_STARTUP_BIN=<path>
#   uses a bench-startup runner already built.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/bench.sh

profiles="${PROFILES:-3:fat:1 s:fat:1 z:fat:1 3:thin:16 s:thin:16}"
function="${BENCH_FUNCTION:-api}"
[ -d "functions/$function" ] || die "no function '$function' under functions/"
command -v valgrind >/dev/null || die "valgrind not found: install it (apt-get install valgrind)"
command -v zip >/dev/null || die "zip not found: install it (apt-get install zip)"
require_pg
target_dir="${CARGO_TARGET_DIR:-target}"
bench="${BENCH_STARTUP_BIN:-$target_dir/debug/bench-startup}"
[ -n "${BENCH_STARTUP_BIN:-}" ] || cargo build --quiet -p tickwatch-local --bin bench-startup

work="$(mktemp -d /tmp/tickwatch-profiles.XXXXXX)"
chmod 755 "$work"
trap 'pg_stop "$work/pg"; rm -rf "$work"' EXIT
port="$(free_port)"
pg_start "$work/pg" "$port"
export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
export METRICS_SINK=none LOG_FORMAT=json AWS_REGION=us-east-1 RUST_LOG=warn API_KEY=bench-key-0123456789abcdef
# The api as deployed (as in bench-startup): API Gateway checks writes, so no collector at start.
export API_WRITE_AUTHORIZER=gateway
case "$function" in
    api) event=events/api-health.json ;;
    *) event="events/$function-scheduled.json" ;;
esac
[ -f "$event" ] || die "no start event for $function ($event)"

# opt_level_value LEVEL: LEVEL as a TOML value for --config ("s" and "z" are strings).
opt_level_value() {
    case "$1" in s | z) echo "\"$1\"" ;; *) echo "$1" ;; esac
}

rows="$work/rows"
: >"$rows"
migrated=0
for spec in $profiles; do
    IFS=: read -r opt lto cgu deps hot <<<"$spec"
    deps="${deps:-$opt}"
    profile="tw-$opt-$lto-$cgu-$deps$([ -z "$hot" ] || echo "-hot$(echo "$hot" | tr ',' '\n' | wc -l)")"
    say "$function with opt-level=$opt lto=$lto codegen-units=$cgu, dependencies at $deps${hot:+ but $hot at $opt} (profile $profile)"
    quoted_opt="$(opt_level_value "$opt")"
    package_levels=(--config "profile.$profile.package.\"*\".opt-level=$(opt_level_value "$deps")")
    for package in ${hot//,/ }; do
        package_levels+=(--config "profile.$profile.package.$package.opt-level=$quoted_opt")
    done
    rm -rf "${target_dir:?}/$profile"
    started=$(date +%s)
    cargo build --quiet -p "$function" --profile "$profile" \
        --config "profile.$profile.inherits=\"release\"" \
        --config "profile.$profile.opt-level=$quoted_opt" \
        --config "profile.$profile.lto=\"$lto\"" \
        --config "profile.$profile.codegen-units=$cgu" \
        --config "profile.$profile.strip=\"none\"" "${package_levels[@]}"
    build_s=$(( $(date +%s) - started ))
    bin="$work/$profile/bootstrap"
    mkdir -p "$work/$profile"
    cp "$target_dir/$profile/$function" "$bin"
    nm --size-sort --demangle=rust -S "$bin" >"$work/$profile.symbols" 2>/dev/null || true
    strip --strip-all -o "$bin" "$target_dir/$profile/$function"
    [ "${KEEP_BUILDS:-0}" = 1 ] || rm -rf "${target_dir:?}/$profile"
    (cd "$work/$profile" && zip -q -9 bootstrap.zip bootstrap)
    zip_kib=$(( $(stat -c %s "$work/$profile/bootstrap.zip") / 1024 ))
    bin_kib=$(( $(stat -c %s "$bin") / 1024 ))
    if [ "$migrated" = 0 ]; then
        # Migrate once, as the migrator does on a deployment; the starts are then timed with
        # DB_MIGRATE=false, as every other function starts in the cloud.
        pg_migrate "$DATABASE_URL"
        migrated=1
    fi
    instructions="$(DB_MIGRATE=false callgrind_instructions "$bench" "$work" "$profile" "$bin" "$event")" \
        || die "the callgrind start of $profile failed"
    latest="-" history="-"
    if [ "$function" = api ] && [ "${BENCH_API:-1}" = 1 ]; then
        BENCH_SUMMARY="$work/api-summary" BENCH_SECONDS="${BENCH_SECONDS:-8}" BENCH_BIN="$bin" \
            scripts/bench-api.sh >"$work/api-$profile.txt" 2>&1 || { cat "$work/api-$profile.txt" >&2; die "bench-api failed"; }
        latest="$(awk '$1 == "latest" {print $8 " (" $2 "/s, p99 " $4 ")"}' "$work/api-$profile.txt")"
        history="$(awk '$1 == "history?limit=100" {print $8 " (" $2 "/s, p99 " $4 ")"}' "$work/api-$profile.txt")"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$spec" "$build_s" "$bin_kib" "$zip_kib" "$instructions" \
        "$latest" "$history" "$(cut -d' ' -f1 /proc/loadavg)" >>"$rows"
    tail -1 "$rows"
done

echo
echo "## $function by release profile ($(date -u +%Y-%m-%d), $(nproc) CPUs, load average now $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| opt-level / lto / codegen-units | build s | binary KiB | zip KiB | start instructions (vs first) | latest vs pgbench | history vs pgbench | load |"
echo "|---|---|---|---|---|---|---|---|"
awk -F'\t' 'NR == 1 {base = $5}
    {split($1, p, ":"); printf "| %s / %s / %s | %s | %s | %s | %s (%.2fx) | %s | %s | %s |\n",
        p[1], p[2], p[3], $2, $3, $4, $5, $5 / base, $6, $7, $8}' "$rows"
