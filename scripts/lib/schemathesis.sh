# Schemathesis (the OpenAPI fuzzer) in a virtualenv under the cache directory.
# Source after common.sh.

SCHEMATHESIS_VERSION=4.32.5

find_python_for_schemathesis() {
    local root candidate
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for candidate in $(command -v python3.11 python3.12 python3.13 python3 2>/dev/null) \
        $(ls -d "$root"/versions/3.1[1-9]*/bin/python3 2>/dev/null | sort -V); do
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    return 1
}

# Creates (once) the virtualenv; prints the path of its `st` command.
schemathesis_venv() {
    local venv
    venv="$(cache_dir)/schemathesis-venv"
    if [ ! -f "$venv/.installed-$SCHEMATHESIS_VERSION" ]; then
        local python
        python="$(find_python_for_schemathesis)" || die "schemathesis needs Python 3.10 or newer: install it (e.g. 'apt-get install python3')"
        say "installing schemathesis $SCHEMATHESIS_VERSION into $venv (once)"
        rm -rf "$venv"
        "$python" -m venv "$venv" || die "could not create a virtualenv with $python"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >"$venv.log" 2>&1 \
            || { tail -20 "$venv.log" >&2; die "pip could not install schemathesis"; }
        touch "$venv/.installed-$SCHEMATHESIS_VERSION"
    fi
    echo "$venv/bin/st"
}
