#!/usr/bin/env bash
# `make bench`: every benchmark in turn, then one table of the figures they recorded (each a
# ratio against a baseline measured in the same run, or an absolute size/memory figure), with
# the aim beside each and the machine it ran on. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

BENCH_SUMMARY="$(mktemp /tmp/tickwatch-bench-summary.XXXXXX)"
export BENCH_SUMMARY
trap 'rm -f "$BENCH_SUMMARY"' EXIT
started=$(date +%s)
# BENCH_TARGETS runs a subset, e.g. "bench-api bench-startup".
read -r -a targets <<<"${BENCH_TARGETS:-bench-collector bench-detector bench-api bench-startup}"
make --no-print-directory "${targets[@]}"

echo
echo "## make bench summary ($(date -u +%Y-%m-%d), $(( ($(date +%s) - started) / 60 )) min)"
echo "machine: $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| %-66s | %-22s | %-9s |\n' figure value aim
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..68})" "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..11})"
while IFS=$'\t' read -r figure value aim; do
    printf '| %-66s | %-22s | %-9s |\n' "$figure" "$value" "$aim"
done <"$BENCH_SUMMARY"
