#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# deps.sh: install what building and testing codebolt-upgrade needs on Debian 12 (root), once.
set -euo pipefail

packages=(
        build-essential meson ninja-build pkg-config check clang-format scdoc shellcheck
        man-db groff-base bash-completion
        libsystemd-dev libpq-dev libcjson-dev libcurl4-openssl-dev libinih-dev libgcrypt20-dev
        libssl-dev
        systemd systemd-journal-remote dbus util-linux iproute2 curl jq rsync git tmux
        postgresql postgresql-client nodejs npm
        debhelper lintian rpm rpmlint
        clang libclang-rt-dev
        etcd-server etcd-client haproxy prometheus-node-exporter
)

missing=()
for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
# Node.js and npm may come from elsewhere than Debian's packages: a working pair is enough
if command -v node >/dev/null && command -v npm >/dev/null; then
        missing=("${missing[@]/#nodejs/}")
        missing=("${missing[@]/#npm/}")
fi
read -r -a missing <<<"${missing[*]}"

if [ ${#missing[@]} -gt 0 ]; then
        echo "deps.sh: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The sandboxes' PostgreSQL starts from the host's cluster, seen through the overlay: there must be
# one, and nothing may write to it while sandboxes read it. A cluster that our own install just
# started is stopped again; one that was running before is left alone, with a warning.
if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
        pg_createcluster 15 main >/dev/null
fi
if pg_lsclusters -h 2>/dev/null | grep -q ' online'; then
        if printf '%s\n' "${missing[@]}" | grep -qx postgresql; then
                pg_lsclusters -h | awk '$4 == "online" {print $1, $2}' | while read -r ver name; do
                        pg_ctlcluster "$ver" "$name" stop
                done
        else
                echo "deps.sh: warning: a PostgreSQL cluster runs on this host; the sandboxes copy its files while it writes them" >&2
        fi
fi

# the oracle of the semver differential test: the npm semver package that
# tests/semver-diff/package-lock.json pins, in that directory (npm ci: never rewrites the lock)
semver_diff=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/semver-diff
if [ ! -f "$semver_diff/node_modules/semver/package.json" ]; then
        echo "deps.sh: installing the semver npm package into tests/semver-diff"
        (cd "$semver_diff" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
