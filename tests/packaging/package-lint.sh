#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# package-lint.sh OUTDIR VERSION: the .deb and the .rpm of the work tree (built into OUTDIR unless there
# already) pass lintian without an error or a warning and rpmlint without an error, overrides and
# filters each justified in packaging/; both packages, debian/changelog and the RPM spec carry VERSION,
# meson.build's project version; each holds the files an install needs, the configuration file as a conffile.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$1
version=$2
rc=0
fail() {
        echo "FAIL: $*" >&2
        rc=1
}

changelog=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
[ "$changelog" = "$version" ] ||
        fail "packaging/debian/changelog's version is $changelog, meson.build's project version is $version"
spec=$(rpmspec -q --srpm --qf '%{VERSION}\n' "$src/packaging/rpm/codebolt-upgrade.spec")
[ "$spec" = "$version" ] ||
        fail "packaging/rpm/codebolt-upgrade.spec's Version: is $spec, meson.build's project version is $version"

# our own copy: the install scenario may rebuild OUTDIR meanwhile
copy=$(mktemp -d /var/tmp/cbu-pkg-lint.XXXXXX)
trap 'rm -rf "$copy"' EXIT
bash "$src/tests/packaging/ensure-packages.sh" "$out" all "$copy"
deb=$(ls "$copy"/codebolt-upgrade_*.deb)
rpm=$(ls "$copy"/codebolt-upgrade-[0-9]*.rpm)

[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "$deb is version $(dpkg-deb -f "$deb" Version), not $version"
[ "$(rpm -qp --qf '%{VERSION}' "$rpm")" = "$version" ] || fail "$rpm is version $(rpm -qp --qf '%{VERSION}' "$rpm"), not $version"

# lintian: no error, no warning, no override left over (unused or mismatched overrides are only infos)
echo "--- lintian $(basename "$deb")"
lint=$(lintian --tag-display-limit 0 --display-info "$deb" 2>&1) || fail "lintian exited $?"
echo "$lint"
grep -E '^[EW]: ' <<<"$lint" >/dev/null && fail "lintian reports errors or warnings"
grep -E 'unused-override|mismatched-override' <<<"$lint" >/dev/null &&
        fail "packaging/debian/codebolt-upgrade.lintian-overrides has an override that no longer applies"

# rpmlint: no error (an unused filter of the rpmlintrc is one)
echo "--- rpmlint $(basename "$rpm")"
lint=$(rpmlint -r "$src/packaging/rpm/codebolt-upgrade.rpmlintrc" "$rpm" 2>&1) || fail "rpmlint exited $?"
echo "$lint"
grep -E ': E: ' <<<"$lint" >/dev/null && fail "rpmlint reports errors"

# what an install needs, in both (the unit and generator directories differ: /lib on Debian 12)
deb_files=$(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./|/|')
rpm_files=$(rpm -qlp "$rpm")
for f in /usr/bin/codebolt-upgrade \
        /usr/libexec/codebolt-upgrade/{preflight,stage,backup,drain,snapshot,switch,migrate-watch,smoke,finish,rollback,recover,auto,cluster-follow} \
        systemd/system/codebolt-upgrade@.service systemd/system/codebolt-rollback@.service \
        systemd/system/codebolt-upgrade-recover.service systemd/system/codebolt-upgrade-recover-check.service \
        systemd/system/codebolt-upgrade-cluster.service \
        systemd/system-generators/codebolt-upgrade-generator \
        /usr/lib/systemd/catalog/codebolt-upgrade.catalog /usr/lib/tmpfiles.d/codebolt-upgrade.conf \
        /usr/lib/codebolt-upgrade/hooks/pre-upgrade.d/10-dpkg-lock /usr/share/codebolt-upgrade/smoke-steps.json \
        /etc/codebolt-upgrade/upgrade.conf; do
        grep -qE "(^|/)${f#/}\$" <<<"$deb_files" || fail "the .deb lacks $f"
        grep -qE "(^|/)${f#/}\$" <<<"$rpm_files" || fail "the .rpm lacks $f"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/codebolt-upgrade/upgrade.conf ||
        fail "the .deb does not mark /etc/codebolt-upgrade/upgrade.conf as a conffile"
rpm -qp --configfiles "$rpm" | grep -qx /etc/codebolt-upgrade/upgrade.conf ||
        fail "the .rpm does not mark /etc/codebolt-upgrade/upgrade.conf as %config"
# the backup directory is the first backup's to make, never the package's (docs/architecture.md, "Configuration")
if grep -q '/backups' <<<"$deb_files$rpm_files"; then fail "a package ships the backup directory"; fi
# never a restart of the upgrade template by an RPM upgrade
if rpm -qp --scripts "$rpm" | grep -E 'try-restart|restart' | grep -q 'codebolt-upgrade@'; then
        fail "the .rpm's scriptlets restart the upgrade template"
fi

[ "$rc" = 0 ] && echo "package-lint: PASS"
exit "$rc"
