# Helpers shared by the scripts. Source it; it defines functions only.

die() { echo "error: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

# A TCP port that is free on loopback right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Where slow-to-build things live between runs (a virtualenv, downloaded tools).
cache_dir() {
    local dir="${TICKWATCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tickwatch}"
    mkdir -p "$dir" && echo "$dir"
}
