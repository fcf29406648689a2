#!/usr/bin/env bash
# Install the Debian packages the tests need, only when missing.
#
#   chromium           the browser Playwright drives (no `playwright install`: Debian's build)
#   fonts-dejavu-core  so screenshots show readable text
#   nodejs             the CDK's jsii runtime (make synth, tests/infra), only when there is no
#                      `node` on PATH at all: a newer Node installed another way is better
#
# Idempotent and quick when everything is present; downloads only from the Debian archive
# through apt. Prints one line saying what it did; exits non-zero with a reason otherwise.
set -euo pipefail

PACKAGES=(chromium fonts-dejavu-core)
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)

is_installed() {
    # dpkg-query prints "install ok installed" only for a fully installed package.
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

fail() {
    echo "install-system-deps: $*" >&2
    exit 1
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
    command -v chromium >/dev/null 2>&1 ||
        fail "the chromium package is installed but 'chromium' is not on PATH ($PATH)"
    command -v node >/dev/null 2>&1 ||
        fail "the nodejs package is installed but 'node' is not on PATH ($PATH)"
    echo "install-system-deps: nothing to do (${PACKAGES[*]} already installed)"
    exit 0
fi

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found; install ${missing[*]} by hand"

if ((EUID == 0)); then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo --non-interactive)
else
    fail "need root (or sudo) to install ${missing[*]}; run this script as root"
fi

log="$(mktemp "${TMPDIR:-/tmp}/install-system-deps.XXXXXX.log")"
trap 'rm -f "$log"' EXIT

apt() {
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q "$@" >>"$log" 2>&1
}

install() {
    apt install -y --no-install-recommends "${missing[@]}"
}

has_candidates() {
    local pkg
    for pkg in "${missing[@]}"; do
        # No pipe into grep -q: with pipefail, apt-cache's SIGPIPE would count as failure.
        [[ "$(apt-cache policy "$pkg" 2>/dev/null)" == *"Candidate: "[!\(]* ]] || return 1
    done
}

update() {
    apt update || { tail -n 20 "$log" >&2; fail "apt-get update failed"; }
    updated=" (after apt-get update)"
}

updated=""
# Refresh the package lists only when the install needs it: when apt knows no candidate for
# a missing package, or when installing from the current lists fails (stale lists give 404s).
has_candidates || update
if ! install && ! { [[ -z "$updated" ]] && update && install; }; then
    tail -n 20 "$log" >&2
    fail "apt-get install ${missing[*]} failed"
fi

command -v chromium >/dev/null 2>&1 || fail "installed ${missing[*]} but 'chromium' is not on PATH"
command -v node >/dev/null 2>&1 || fail "installed ${missing[*]} but 'node' is not on PATH"
echo "install-system-deps: installed ${missing[*]}${updated}: $(chromium --version 2>/dev/null || echo chromium)"
