#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# build-packages.sh OUTDIR [deb|rpm|all]: the Debian package (packaging/debian) and the RPM
# (packaging/rpm/codebolt-upgrade.spec) of the work tree as it is, uncommitted changes included, into
# OUTDIR. Builds from a clean copy of the tree (the files git tracks and the untracked ones it does not
# ignore) in /var/tmp, never from a build directory. Installs its own build dependencies with apt-get
# (as root) on Debian 12. The version is meson.build's project(version:).
# build-packages.sh --tree-hash: print a hash of what the packages would be built from.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
        echo "usage: build-packages.sh OUTDIR [deb|rpm|all] | build-packages.sh --tree-hash" >&2
        exit 2
}

# the files of the work tree, NUL-separated, relative to $src: tracked (less those deleted in the work
# tree) and untracked but not ignored
tree_files() {
        git -C "$src" ls-files -z --cached --others --exclude-standard | sort -zu |
                (cd "$src" && while IFS= read -r -d '' f; do
                        if [ -f "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
                done)
}

[ $# -ge 1 ] || usage
git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
        { echo "build-packages.sh: $src is not a git work tree" >&2; exit 2; }

if [ "$1" = --tree-hash ]; then
        [ $# = 1 ] || usage
        # every path with its mode, and every file's contents
        cd "$src"
        { tree_files | xargs -0 -r stat -c '%a %n'; tree_files | xargs -0 -r sha256sum; } | sha256sum | cut -d' ' -f1
        exit 0
fi

out=$1
what=${2:-all}
case $what in deb | rpm | all) ;; *) usage ;; esac
[ $# -le 2 ] || usage

# what the build needs; packaging/debian/control's Build-Depends are added below
tools=(build-essential dpkg-dev debhelper git meson python3)
[ "$what" = deb ] || tools+=(rpm)
install_packages() {
        local missing=() p
        for p in "$@"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
        done
        [ ${#missing[@]} -gt 0 ] || return 0
        if [ "$(id -u)" != 0 ]; then
                echo "build-packages.sh: missing ${missing[*]}; run as root to install them" >&2
                exit 2
        fi
        echo "build-packages.sh: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
install_packages "${tools[@]}"

version=$(meson introspect --projectinfo "$src/meson.build" | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
[ -n "$version" ] || { echo "build-packages.sh: no version in meson.build's project()" >&2; exit 1; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d /var/tmp/cbu-pkg-build.XXXXXX)
trap 'rm -rf --one-file-system "$tmp"' EXIT
tree=$tmp/codebolt-upgrade-$version
mkdir "$tree"
tree_files | tar -C "$src" --null --no-recursion -T - -cf - | tar -C "$tree" -xf -

# the Build-Depends of packaging/debian/control that dpkg-checkbuilddeps finds missing (the RPM is built
# with them too), without version constraints or alternatives
unmet=$(dpkg-checkbuilddeps "$tree/packaging/debian/control" 2>&1 |
        sed -n 's/.*Unmet build dependencies: //p' | sed -E 's/\([^)]*\)//g; s/ *\| *[^ ]+//g')
# shellcheck disable=SC2086
[ -z "$unmet" ] || install_packages $unmet

# a step's output goes to OUTDIR/<step>.log; a failure prints its end
run_logged() {
        local log=$out/$1.log
        shift
        if ! "$@" >"$log" 2>&1; then
                tail -n 60 "$log" >&2
                echo "build-packages.sh: $* failed; the whole log is $log" >&2
                exit 1
        fi
}

if [ "$what" != deb ]; then
        # Source0, from the copy before the Debian build writes into it
        mkdir -p "$tmp/rpm/SOURCES" "$tmp/rpm/SPECS"
        tar -C "$tmp" --owner=0 --group=0 -czf "$tmp/rpm/SOURCES/codebolt-upgrade-$version.tar.gz" "codebolt-upgrade-$version"
        cp "$tree/packaging/rpm/codebolt-upgrade.spec" "$tmp/rpm/SPECS/"
fi

if [ "$what" != rpm ]; then
        cp -a "$tree/packaging/debian" "$tree/debian"
        deb_version=$(dpkg-parsechangelog -l "$tree/debian/changelog" -S Version)
        if [ "$deb_version" != "$version" ]; then
                echo "build-packages.sh: packaging/debian/changelog says $deb_version, meson.build says $version" >&2
                exit 1
        fi
        rm -f "$out"/codebolt-upgrade_*.deb "$out"/codebolt-upgrade-dbgsym_*.deb
        (cd "$tree" && run_logged deb-build dpkg-buildpackage -us -uc -b -Jauto)
        mv "$tmp"/codebolt-upgrade*_"$version"_*.deb "$out"/
fi

if [ "$what" != deb ]; then
        rm -f "$out"/codebolt-upgrade-*.rpm
        # --nodeps: BuildRequires name RPM packages, which rpm's database does not know on a Debian host
        # (the Debian names of the same dependencies are installed above). Debian 12's brp-compress, which
        # compresses the man pages, says #!/bin/sh but needs bash (read -d): run it with bash.
        rpm_version=$(rpmspec -q --srpm --qf '%{VERSION}\n' "$tree/packaging/rpm/codebolt-upgrade.spec")
        if [ "$rpm_version" != "$version" ]; then
                echo "build-packages.sh: packaging/rpm/codebolt-upgrade.spec says Version: $rpm_version, meson.build says $version" >&2
                exit 1
        fi
        run_logged rpm-build rpmbuild -bb --nodeps --define "_topdir $tmp/rpm" \
                --define "packager $(dpkg-parsechangelog -l "$tree/packaging/debian/changelog" -S Maintainer)" \
                --define "__brp_compress /bin/bash %{_rpmconfigdir}/brp-compress %{?_prefix}" \
                "$tmp/rpm/SPECS/codebolt-upgrade.spec"
        find "$tmp/rpm/RPMS" -name 'codebolt-upgrade-*.rpm' -exec mv -t "$out" {} +
fi

ls -1 "$out"/codebolt-upgrade*.deb "$out"/codebolt-upgrade*.rpm 2>/dev/null || true
