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

# callgrind_instructions BENCH_STARTUP WORKDIR NAME BINARY EVENT: the instructions BINARY runs
# from process start to its first response to EVENT, counted under valgrind's callgrind by the
# bench-startup runner (load does not change the count, unlike wall-clock time). Prints the
# count, or fails when the run or the count failed. The environment is passed to BINARY.
callgrind_instructions() {
    local bench="$1" work="$2" name="$3" bin="$4" event="$5" slug wrapper out
    slug="$(echo "$name" | tr -c 'a-z0-9\n' '_')"
    wrapper="$work/vg-$slug"
    out="$work/cg-$slug"
    rm -f "$out"
    # Not exec: the runner kills what it started (SIGKILL, which callgrind cannot survive to
    # write its counts); valgrind, left running, exits by itself once the runtime API is gone,
    # and writes them then.
    printf '#!/bin/sh\nvalgrind --tool=callgrind --callgrind-out-file=%s %s &\nwait\n' "$out" "$bin" >"$wrapper"
    chmod +x "$wrapper"
    BENCH_SUMMARY="" "$bench" --runs 1 "$name=$wrapper@$event" >/dev/null 2>&1 || return 1
    for _ in $(seq 1 100); do grep -qE '^(summary|totals):' "$out" 2>/dev/null && break; sleep 0.1; done
    awk '/^(summary|totals):/ {print $2; found = 1; exit} END {exit !found}' "$out"
}
