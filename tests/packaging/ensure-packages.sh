#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# ensure-packages.sh OUTDIR deb|rpm|all COPY-TO: the packages of the work tree as it is now in OUTDIR,
# built by tools/build-packages.sh unless OUTDIR already holds them from the same tree (the stamp of each
# kind records tools/build-packages.sh --tree-hash), then copied into COPY-TO. One build at a time: the
# lint test and the install scenario run side by side and share it; each takes its copy under the lock,
# since the other may rebuild OUTDIR (for a tree that changed meanwhile) once the lock is released.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ $# = 3 ] || { echo "usage: ensure-packages.sh OUTDIR deb|rpm|all COPY-TO" >&2; exit 2; }
out=$1
copy_to=$3
case $2 in
deb | rpm) kinds=$2 ;;
all) kinds="deb rpm" ;;
*) echo "usage: ensure-packages.sh OUTDIR deb|rpm|all COPY-TO" >&2; exit 2 ;;
esac

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9

hash=$("$src/tools/build-packages.sh" --tree-hash)
pattern() {
        case $1 in
        deb) echo 'codebolt-upgrade_*.deb' ;;
        rpm) echo 'codebolt-upgrade-[0-9]*.rpm' ;;
        esac
}
need=()
for kind in $kinds; do
        if [ "$(cat "$out/$kind.stamp" 2>/dev/null)" = "$hash" ] && compgen -G "$out/$(pattern "$kind")" >/dev/null; then
                echo "ensure-packages.sh: the $kind package of this tree is in $out already"
        else
                need+=("$kind")
                rm -f "$out/$kind.stamp"
        fi
done

if [ ${#need[@]} -gt 0 ]; then
        what=${need[0]}
        [ ${#need[@]} = 1 ] || what=all
        echo "ensure-packages.sh: building the ${need[*]} package(s) into $out"
        start=$SECONDS
        "$src/tools/build-packages.sh" "$out" "$what" >/dev/null
        for kind in "${need[@]}"; do
                echo "$hash" >"$out/$kind.stamp"
        done
        echo "ensure-packages.sh: built in $((SECONDS - start)) s"
fi

mkdir -p "$copy_to"
for kind in $kinds; do
        # shellcheck disable=SC2046
        cp $(compgen -G "$out/$(pattern "$kind")") "$copy_to/"
done
