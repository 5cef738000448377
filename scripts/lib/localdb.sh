# The local development database shared by `make run` and `make watch`: a cluster in
# .tickwatch/ (kept between runs), started here unless DATABASE_URL is set.
# Source after common.sh and postgres.sh. Exports DATABASE_URL; call localdb_stop on exit.

localdb_start() {
    LOCALDB_STARTED=0
    [ -n "${DATABASE_URL:-}" ] && return 0
    require_pg
    local state="${TICKWATCH_STATE_DIR:-$PWD/.tickwatch}"
    # As root the server runs as postgres, which must be able to reach the data directory.
    if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$(dirname "$state")" 2>/dev/null; then
        state="/var/tmp/tickwatch-$(echo "$PWD" | cksum | cut -d' ' -f1)"
    fi
    LOCALDB_DIR="$state/pg"
    local port
    if [ -f "$LOCALDB_DIR/port" ] && pg_run "$PG_BIN/pg_ctl" -D "$LOCALDB_DIR/data" status >/dev/null 2>&1; then
        port="$(cat "$LOCALDB_DIR/port")"
        say "reusing the local PostgreSQL on 127.0.0.1:$port ($LOCALDB_DIR)"
    else
        port="$(cat "$LOCALDB_DIR/port" 2>/dev/null || free_port)"
        pg_start "$LOCALDB_DIR" "$port"
        echo "$port" > "$LOCALDB_DIR/port"
        say "started a local PostgreSQL on 127.0.0.1:$port ($LOCALDB_DIR)"
        LOCALDB_STARTED=1
    fi
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

localdb_stop() {
    if [ "${LOCALDB_STARTED:-0}" = 1 ]; then
        say "stopping PostgreSQL (data kept in $LOCALDB_DIR)"
        pg_stop "$LOCALDB_DIR"
    fi
}
