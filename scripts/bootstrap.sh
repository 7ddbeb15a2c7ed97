#!/usr/bin/env bash
# Set-up steps behind `make deps` and `make venv`, safe to run again and again:
#   scripts/bootstrap.sh deps   Debian packages the project needs, installed only if missing
#   scripts/bootstrap.sh venv   .venv with Python >= 3.11, `pip install -e .[dev]` when pyproject.toml changed
# Works as root without sudo (CI, no stdin) and as a user with sudo.
set -euo pipefail

cd "$(dirname "$0")/.."

# chromium: the browser tests drive the pages headless, as a person would see them
DEB_PACKAGES=(mosquitto fonts-noto-cjk chromium espeak-ng)
VENV=.venv
STAMP="$VENV/.yichuang-installed"

say() { printf 'bootstrap: %s\n' "$*" >&2; }

deb_installed() {
    # `dpkg -s` also succeeds for a removed package whose config files remain.
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
    else
        say "need root to run: $*  (no sudo found)"
        return 1
    fi
}

apt_install() {
    if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        say "not a Debian-like system; please install: $*"
        return 1
    fi
    local missing=() pkg
    for pkg in "$@"; do
        deb_installed "$pkg" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    # Wait for another apt run (unattended-upgrades, a parallel CI job) instead of failing.
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q)
    as_root "${apt[@]}" update </dev/null
    as_root "${apt[@]}" install -y --no-install-recommends "${missing[@]}" </dev/null
}

python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

find_python() {
    local candidate
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

cmd_deps() {
    if ! command -v dpkg >/dev/null 2>&1; then
        say "no dpkg: skipping Debian packages; make sure these are installed: ${DEB_PACKAGES[*]}"
        return 0
    fi
    apt_install "${DEB_PACKAGES[@]}"
}

cmd_venv() {
    if [ -e "$VENV/bin/python" ] && ! python_ok "$VENV/bin/python"; then
        say "$VENV has no working Python >= 3.11; recreating it"
        rm -rf "$VENV"
    fi
    if [ ! -e "$VENV/bin/python" ]; then
        local py
        if ! py=$(find_python); then
            say "Python >= 3.11 not found"
            return 1
        fi
        # Debian's python3 ships venv/ensurepip separately.
        if ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
            local ver
            ver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
            apt_install "python${ver}-venv"
        fi
        say "creating $VENV with $py"
        "$py" -m venv "$VENV"
        rm -f "$STAMP"
    fi
    if [ ! -e "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
        say "installing the project into $VENV"
        "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
        touch "$STAMP"
    fi
}

case "${1:-}" in
    deps) cmd_deps ;;
    venv) cmd_venv ;;
    all) cmd_deps; cmd_venv ;;
    *)
        echo "usage: $0 deps|venv|all" >&2
        exit 2
        ;;
esac
