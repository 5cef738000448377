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

# traced_start BENCH_STARTUP WORKDIR NAME EVENT COMMAND OUT PATTERN: one start of the shell
# COMMAND (a binary under a tracer that writes its count to OUT when the binary exits) by the
# bench-startup runner, up to its first response to EVENT; then waits until OUT holds a line
# matching PATTERN. Fails when the start or the count failed. The environment is passed on.
traced_start() {
    local bench="$1" work="$2" name="$3" event="$4" command="$5" out="$6" pattern="$7" wrapper
    wrapper="$work/trace-$(echo "$name" | tr -c 'a-z0-9\n' '_')"
    rm -f "$out"
    # Not exec: the runner kills what it started (SIGKILL, which a tracer cannot survive to
    # write its count); the tracer, left running, exits by itself once the runtime API is gone,
    # and writes it then. Traced starts are slow, hence the long timeout.
    printf '#!/bin/sh\n%s &\nwait\n' "$command" >"$wrapper"
    chmod +x "$wrapper"
    BENCH_SUMMARY="" "$bench" --runs 1 --timeout 600 "$name=$wrapper@$event" >/dev/null 2>&1 || return 1
    for _ in $(seq 1 1200); do grep -qE "$pattern" "$out" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}

# callgrind_instructions BENCH_STARTUP WORKDIR NAME BINARY EVENT: the instructions BINARY runs
# from process start to its first response to EVENT (and on to its exit), counted under
# valgrind's callgrind (load does not change the count, unlike wall-clock time). Prints the
# count, or fails.
callgrind_instructions() {
    local out="$2/cg-$(echo "$3" | tr -c 'a-z0-9\n' '_')"
    traced_start "$1" "$2" "$3" "$5" "valgrind --tool=callgrind --callgrind-out-file=$out $4" \
        "$out" '^(summary|totals):' || return 1
    awk '/^(summary|totals):/ {print $2; found = 1; exit} END {exit !found}' "$out"
}

# The arm64 glibc qemu-user loads the arm64 bootstraps' libraries from (they link glibc
# dynamically, as on Lambda): Debian's libc6-arm64-cross by default.
qemu_aarch64_sysroot() {
    echo "${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}"
}

# qemu_aarch64_missing: prints why arm64 binaries cannot run here and succeeds, or fails when
# they can.
qemu_aarch64_missing() {
    if ! command -v qemu-aarch64 >/dev/null; then
        echo "qemu-aarch64 not found (apt-get install qemu-user libc6-arm64-cross)"
    elif [ ! -e "$(qemu_aarch64_sysroot)/lib/ld-linux-aarch64.so.1" ]; then
        echo "no arm64 glibc in $(qemu_aarch64_sysroot) (apt-get install libc6-arm64-cross, or set QEMU_LD_PREFIX)"
    else
        return 1
    fi
}

# The command that runs an arm64 binary here: qemu-user with the arm64 glibc.
qemu_aarch64_command() {
    echo "qemu-aarch64 -L $(qemu_aarch64_sysroot)"
}

# qemu_instructions BENCH_STARTUP WORKDIR NAME BINARY EVENT: the arm64 instructions BINARY runs
# from process start to its first response to EVENT (and on to its exit, as callgrind counts),
# as qemu-user executes them: with one instruction per translation block and block chaining
# off, qemu's `exec` log has one "Trace" line per guest instruction executed, counted as it is
# written (the log goes to fd 3, a pipe; the guest's own output to /dev/null). Repeatable like
# callgrind's count, but of another instruction set: only ratios to a binary counted the same
# way mean anything. Prints the count, or fails.
qemu_instructions() {
    local out="$2/qi-$(echo "$3" | tr -c 'a-z0-9\n' '_')"
    traced_start "$1" "$2" "$3" "$5" \
        "{ $(qemu_aarch64_command) -singlestep -d nochain,exec -D /dev/fd/3 $4 3>&1 >/dev/null 2>&1 | grep -c '^Trace' >$out.part; mv $out.part $out; }" \
        "$out" '^[1-9][0-9]*$' || return 1
    cat "$out"
}
