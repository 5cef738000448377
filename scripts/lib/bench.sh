# Helpers shared by the benchmark scripts. Source after common.sh.

# summary_add FIGURE VALUE AIM: records one figure of the run for `make bench`'s closing table
# (scripts/bench-all.sh sets BENCH_SUMMARY); a script run on its own just prints its own.
summary_add() {
    [ -n "${BENCH_SUMMARY:-}" ] && printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$BENCH_SUMMARY"
    return 0
}

# to_ms DURATION: wrk's "812.00us" / "1.20ms" / "1.05s" as milliseconds.
to_ms() {
    awk -v d="$1" 'BEGIN {
        if (d ~ /us$/) { sub(/us$/, "", d); printf "%.3f", d / 1000 }
        else if (d ~ /ms$/) { sub(/ms$/, "", d); printf "%.3f", d }
        else if (d ~ /m$/) { sub(/m$/, "", d); printf "%.3f", d * 60000 }
        else { sub(/s$/, "", d); printf "%.3f", d * 1000 }
    }'
}
