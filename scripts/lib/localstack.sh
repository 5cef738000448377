# LocalStack without Docker, on loopback, for tests that make real AWS SDK calls.
# Source after common.sh.

LOCALSTACK_PACKAGES='localstack-core[runtime]==2026.3.0 cbor2<6 pyopenssl<26 cryptography<47 service_identity'

find_python312() {
    local root candidate
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for candidate in $(command -v python3.13 python3.12 python3 2>/dev/null) \
        $(ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -V -r); do
        # pyenv shims exist for versions that are installed but not selected: try each one.
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    return 1
}

# Creates (once) a virtualenv with LocalStack in the cache directory; prints its python.
localstack_venv() {
    local venv
    venv="$(cache_dir)/localstack-venv"
    if [ ! -f "$venv/.installed-2026.3.0" ]; then
        local python
        python="$(find_python312)" || die "LocalStack needs Python 3.12 or newer: install it (e.g. 'pyenv install 3.12' or 'apt-get install python3.12')"
        say "installing LocalStack into $venv (once)"
        rm -rf "$venv"
        "$python" -m venv "$venv" || die "could not create a virtualenv with $python"
        # shellcheck disable=SC2086
        "$venv/bin/pip" install --quiet --disable-pip-version-check $LOCALSTACK_PACKAGES >"$venv.log" 2>&1 \
            || { tail -20 "$venv.log" >&2; die "pip could not install LocalStack"; }
        touch "$venv/.installed-2026.3.0"
    fi
    echo "$venv/bin/python"
}

# localstack_start DIR PORT: starts LocalStack on 127.0.0.1:PORT and waits until it is ready.
# Sets LOCALSTACK_PID. A start that hangs is killed after 90 s.
localstack_start() {
    local dir="$1" port="$2" python
    python="$(localstack_venv)"
    mkdir -p "$dir"/{fs,cache,tmp,vol}
    GATEWAY_LISTEN="127.0.0.1:$port" GATEWAY_SERVER=hypercorn \
    SERVICES=cloudwatch,secretsmanager,events,sqs,sns DISABLE_EVENTS=1 EAGER_SERVICE_LOADING=1 \
    DNS_ADDRESS=0 SKIP_SSL_CERT_DOWNLOAD=1 LOCALSTACK_TELEMETRY_DISABLED=1 OVERRIDE_IN_DOCKER=0 \
    FILESYSTEM_ROOT="$dir/fs" CACHE_DIR="$dir/cache" TMP_FOLDER="$dir/tmp" VOLUME_DIR="$dir/vol" \
        "$python" -m localstack.runtime.main >"$dir/localstack.log" 2>&1 &
    LOCALSTACK_PID=$!
    local waited=0
    until curl -fsS "http://127.0.0.1:$port/_localstack/health" 2>/dev/null | grep -q '"secretsmanager"'; do
        sleep 0.5
        waited=$((waited + 1))
        if [ "$waited" -ge 180 ] || ! kill -0 "$LOCALSTACK_PID" 2>/dev/null; then
            kill "$LOCALSTACK_PID" 2>/dev/null
            tail -30 "$dir/localstack.log" >&2
            die "LocalStack did not become ready on port $port"
        fi
    done
}

# Called from exit traps, where `set -e` still applies: a kill of a server that has already
# exited must not turn a passing run's exit status into a failure.
localstack_stop() {
    [ -n "${LOCALSTACK_PID:-}" ] || return 0
    kill "$LOCALSTACK_PID" 2>/dev/null || return 0
    for _ in $(seq 20); do kill -0 "$LOCALSTACK_PID" 2>/dev/null || return 0; sleep 0.25; done
    kill -9 "$LOCALSTACK_PID" 2>/dev/null || true
    return 0
}
