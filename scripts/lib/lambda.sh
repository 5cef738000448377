# Building the Lambda zips with cargo-lambda. Source after common.sh.

# The functions that become Lambdas: every crate under functions/.
lambda_functions() {
    local dir
    for dir in functions/*/; do
        [ -f "$dir/Cargo.toml" ] && basename "$dir"
    done
}

# Puts cargo-lambda (and the zig it links with) on PATH. The copy in the cache directory wins
# when there is one, so every build links with the same zig and cargo's cache stays valid;
# otherwise one already on PATH is used; otherwise it is installed once into the cache.
CARGO_LAMBDA_VERSION="1.9.2"
ensure_cargo_lambda() {
    local venv
    venv="$(cache_dir)/cargo-lambda-venv"
    if [ ! -x "$venv/bin/cargo-lambda" ] && cargo lambda --version >/dev/null 2>&1; then return 0; fi
    if [ ! -x "$venv/bin/cargo-lambda" ]; then
        command -v python3 >/dev/null || die "python3 not found: install it to get cargo-lambda (apt-get install python3 python3-venv)"
        say "installing cargo-lambda $CARGO_LAMBDA_VERSION into $venv (once)"
        rm -rf "$venv"
        python3 -m venv "$venv" || die "could not create a virtualenv (apt-get install python3-venv)"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION" >"$venv.log" 2>&1 \
            || { tail -20 "$venv.log" >&2; die "pip could not install cargo-lambda"; }
    fi
    # The venv's python3 comes first so cargo-lambda finds zig through `python3 -m ziglang`.
    export PATH="$venv/bin:$PATH"
    cargo lambda --version >/dev/null 2>&1 || die "cargo-lambda is installed in $venv but does not run"
}

# The Rust target for a Lambda architecture, with a glibc floor below Amazon Linux 2023's 2.34
# so the binary never needs a newer glibc than the runtime has.
lambda_target() {
    case "$1" in
        x86_64) echo "x86_64-unknown-linux-gnu.2.26" ;;
        arm64) echo "aarch64-unknown-linux-gnu.2.26" ;;
        *) die "unknown Lambda architecture '$1': expected arm64 or x86_64" ;;
    esac
}

# lambda_build ARCH [cargo-lambda args...]: release-builds every function into
# target/lambda/<fn>/bootstrap.zip for ARCH (arm64 or x86_64). One cargo invocation per
# function: cargo unifies the features of the packages it builds together, so a joint build
# would link every function with the AWS clients of the collector (see shared/Cargo.toml).
lambda_build() {
    local arch="$1"; shift
    local target fn
    target="$(lambda_target "$arch")"
    say "cargo lambda build --release for $arch ($target): $(lambda_functions | tr '\n' ' ')"
    for fn in $(lambda_functions); do
        cargo lambda build --release --target "$target" --output-format zip \
            --lambda-dir target/lambda -p "$fn" "$@"
    done
}

# zip_add_file ZIP FILE NAME: puts FILE into ZIP as NAME (replacing an older NAME), keeping
# every other entry and its permissions (bootstrap must stay executable).
zip_add_file() {
    python3 - "$1" "$2" "$3" <<'PY' || die "could not add $2 to $1"
import os, sys, zipfile
archive, path, name = sys.argv[1:4]
staging = archive + ".tmp"
with zipfile.ZipFile(archive) as src, zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        if info.filename != name:
            dst.writestr(info, src.read(info))
    entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    entry.external_attr = 0o100644 << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    with open(path, "rb") as handle:
        dst.writestr(entry, handle.read())
os.replace(staging, archive)
PY
}

# The port `make watch` serves on and `make invoke-*` sends to (WATCH_PORT, default 9000).
watch_port() {
    echo "${WATCH_PORT:-9000}"
}

# Whether something accepts connections on 127.0.0.1:PORT (a bare TCP connect: an HTTP probe
# would put an error line into the watcher's log).
listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Where `make watch` keeps its output for `make invoke-*` to read: outside the workspace, or
# the watcher would see the file change and rebuild for ever.
watch_log() {
    echo "$(cache_dir)/watch-$(watch_port).log"
}

# watch_failure FUNCTION LOG: prints why FUNCTION cannot answer and succeeds, or fails when
# nothing says so. Only what the log holds after FUNCTION's latest start counts: the line
# `<function>: cannot start: ...` a function prints (or logs) when a setting stops it (the
# watcher does not start it again until the code changes), or the compiler's errors.
watch_failure() {
    local function="$1" log="$2"
    awk -v start="starting lambda function instance function=\"$function\"" \
        -v refused="$function: cannot start" '
        index($0, start) { failure = ""; compile = ""; next }
        $0 ~ refused { failure = $0 }
        /^error(\[E[0-9]+\])?: / { compile = compile $0 "\n" }
        END {
            if (failure != "") { print failure; exit 0 }
            if (compile != "") { printf "%s", compile; exit 0 }
            exit 1
        }' "$log"
}
