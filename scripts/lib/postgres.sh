# Throwaway PostgreSQL clusters from the local server binaries (initdb/pg_ctl).
# Source after common.sh. Works as root: the cluster then runs as the postgres user.

pg_bindir() {
    local dir
    for dir in "$(pg_config --bindir 2>/dev/null)" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"; return 0
        fi
    done
    return 1
}

require_pg() {
    PG_BIN="$(pg_bindir)" || die "PostgreSQL server binaries not found: install them with 'apt-get install postgresql' (version 15 or newer)"
    local major
    major="$("$PG_BIN/postgres" --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')"
    [ "$major" -ge 15 ] || die "PostgreSQL $major found, 15 or newer needed: 'apt-get install postgresql-15'"
}

# Runs a PostgreSQL binary as an unprivileged user when we are root (initdb refuses root).
pg_run() {
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# pg_start DIR PORT [tls]: initialises DIR (if new) and starts a server on 127.0.0.1:PORT.
# With "tls", a CA and a server certificate for localhost/127.0.0.1 are made in DIR/certs and
# the server accepts TLS; DIR/certs/ca.crt is the CA to trust. PG_EXTRA_OPTS adds server
# options (e.g. "-c shared_preload_libraries=pg_stat_statements").
pg_start() {
    local dir="$1" port="$2" tls="${3:-}"
    mkdir -p "$dir"
    chmod 755 "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir" 2>/dev/null || { id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres; chown postgres "$dir"; }; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        pg_run "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; die "initdb failed in $dir"; }
        # Members of tickwatch_password_login must log in with their password (the tests of
        # secret-based login and rotation); everyone else is trusted, as on any local cluster.
        pg_run sed -i '1i host all +tickwatch_password_login 127.0.0.1/32 scram-sha-256' "$dir/data/pg_hba.conf"
    fi
    local opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 ${PG_EXTRA_OPTS:-}"
    if [ "$tls" = tls ]; then
        command -v openssl >/dev/null || die "openssl not found: install it with 'apt-get install openssl'"
        make_certs "$dir/certs"
        opts="$opts -c ssl=on -c ssl_cert_file=$dir/certs/server.crt -c ssl_key_file=$dir/certs/server.key"
    fi
    pg_run "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "$opts" start >/dev/null \
        || { cat "$dir/server.log" >&2; die "PostgreSQL did not start in $dir"; }
}

pg_stop() {
    local dir="$1"
    [ -f "$dir/data/postmaster.pid" ] && pg_run "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1
    return 0
}

make_certs() {
    local out="$1"
    mkdir -p "$out"
    [ -f "$out/server.crt" ] && return 0
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=tickwatch test CA" \
        -keyout "$out/ca.key" -out "$out/ca.crt" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$out/server.key" -out "$out/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$out/ext.cnf"
    openssl x509 -req -in "$out/server.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
        -days 30 -extfile "$out/ext.cnf" -out "$out/server.crt" 2>/dev/null
    chmod 600 "$out/server.key"
    if [ "$(id -u)" = 0 ]; then chown postgres "$out/server.key" "$out/server.crt"; fi
}

# pg_migrate URL: applies the migrations and grants the roles in the database at URL, as the
# migrator function does on a deployment. Every other function is built without the
# migrations and only checks, on first use, that the schema is the one it was built for.
pg_migrate() {
    cargo build --quiet -p tickwatch-local --bin migrate
    DATABASE_URL="$1" "${CARGO_TARGET_DIR:-target}/debug/migrate" || die "could not migrate the database at $1"
}
