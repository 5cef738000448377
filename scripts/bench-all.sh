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
# Columns as wide as their longest cell (a figure's name says its architecture and runner).
awk -F'\t' '
    function pad(text, width) { return sprintf("%-" width "s", text) }
    function dashes(width,    line) { line = ""; while (width-- > 0) line = line "-"; return line }
    { for (i = 1; i <= 3; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
    END {
        header[1] = "figure"; header[2] = "value"; header[3] = "aim"
        for (i = 1; i <= 3; i++) if (length(header[i]) > w[i]) w[i] = length(header[i])
        printf "| %s | %s | %s |\n", pad(header[1], w[1]), pad(header[2], w[2]), pad(header[3], w[3])
        printf "|%s|%s|%s|\n", dashes(w[1] + 2), dashes(w[2] + 2), dashes(w[3] + 2)
        for (r = 1; r <= NR; r++)
            printf "| %s | %s | %s |\n", pad(cell[r, 1], w[1]), pad(cell[r, 2], w[2]), pad(cell[r, 3], w[3])
    }' "$BENCH_SUMMARY"
