# The local development database shared by `make run` and `make watch`: a cluster in
# .tickwatch/ (kept between runs), started here unless DATABASE_URL is set.
# Source after common.sh and postgres.sh. Exports DATABASE_URL; call localdb_stop on exit.

# The local cluster's directory.
localdb_dir() {
    local state="${TICKWATCH_STATE_DIR:-$PWD/.tickwatch}"
    # As root the server runs as postgres, which must be able to reach the data directory.
    if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$(dirname "$state")" 2>/dev/null; then
        state="/var/tmp/tickwatch-$(echo "$PWD" | cksum | cut -d' ' -f1)"
    fi
    echo "$state/pg"
}

localdb_start() {
    LOCALDB_STARTED=0
    [ -n "${DATABASE_URL:-}" ] && return 0
    require_pg
    LOCALDB_DIR="$(localdb_dir)"
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

# Stops the local cluster if it runs and deletes it, data included: the next `make run` starts
# on an empty database. Needed when a migration it applied was rewritten (before anything is
# deployed the schema history may be), which `make run` then says.
localdb_remove() {
    local dir
    dir="$(localdb_dir)"
    if [ -n "${DATABASE_URL:-}" ]; then
        say "DATABASE_URL is set: \`make run\` uses that server, which this leaves alone"
    fi
    if [ ! -d "$dir" ]; then
        say "no local database in $dir"
        return 0
    fi
    require_pg
    pg_stop "$dir"
    rm -rf -- "$dir"
    say "deleted the local database in $dir"
}
