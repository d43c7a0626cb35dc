#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A site installs codebolt-upgrade from its Debian package (packaging/debian, built from the work tree by
# tools/build-packages.sh; never `meson install`): the units verify without a word, the install enables
# and starts nothing, the generator's drop-in is there at once, and the upgrade 1.4.0 → 1.5.0 runs on the
# installed files alone. `apt-get remove` then leaves the state, the ledger, the backup and the server
# alone, and `apt-get purge` removes the configuration file and nothing else of theirs.
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
sb test ! -e /usr/bin/codebolt-upgrade || fail "codebolt-upgrade is in the sandbox before the package is installed"
sb test ! -e /var/lib/codebolt-upgrade || fail "/var/lib/codebolt-upgrade exists before the package is installed"

# the package (built into the build tree once for this scenario and the package-lint test), copied into
# the sandbox
bash "$SB_SRC/tests/packaging/ensure-packages.sh" "$CBU_BUILD_DIR/packages" deb "$(sb_root)/var/tmp/packages" ||
        fail "no package to install: tools/build-packages.sh failed (its log is in $CBU_BUILD_DIR/packages)"
debs=("$(sb_root)"/var/tmp/packages/codebolt-upgrade_*.deb)
{ [ ${#debs[@]} = 1 ] && [ -f "${debs[0]}" ]; } || fail "not exactly one codebolt-upgrade .deb: ${debs[*]}"
deb=packages/$(basename "${debs[0]}")

# apt-get as an operator runs it, here with no network and no package lists at all: every dependency is
# installed already
sb sh -c 'rm -rf /var/lib/apt/lists/*'
sb_apt() {
        sb env DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends "$@" 2>&1
}
sb_log "apt-get install /var/tmp/$deb"
out=$(sb_apt install "/var/tmp/$deb") || fail "apt-get install /var/tmp/$deb failed: $out"
# shellcheck disable=SC2016 # dpkg-query's format, for dpkg-query
[ "$(sb dpkg-query -W -f='${Status}' codebolt-upgrade)" = "install ok installed" ] ||
        fail "codebolt-upgrade is not installed after apt-get install: $out"

# what the package put in place: the conffile, the state directory (tmpfiles.d), not the backup directory
# shellcheck disable=SC2016 # dpkg-query's format, for dpkg-query
conffiles=$(sb dpkg-query -W -f='${Conffiles}\n' codebolt-upgrade)
grep -q '^ /etc/codebolt-upgrade/upgrade.conf ' <<<"$conffiles" ||
        fail "/etc/codebolt-upgrade/upgrade.conf is not a conffile of the package: $conffiles"
[ "$(sb stat -c '%a %U:%G' /var/lib/codebolt-upgrade)" = "755 root:root" ] ||
        fail "the install left /var/lib/codebolt-upgrade as $(sb stat -c '%a %U:%G' /var/lib/codebolt-upgrade 2>&1), not 755 root:root (its deployments' directories are 0700)"
sb test ! -e /backups/codebolt || fail "the install made the backup directory (the first backup's to make)"

# nothing enabled, nothing started: the recovery units come with a server unit's drop-in, the auto units
# only with [Auto] Schedule=, and the cluster's follower when the operator enables it on a member
for u in codebolt-upgrade-recover.service codebolt-upgrade-recover-check.service codebolt-upgrade-cluster.service; do
        enabled=$(sb systemctl is-enabled "$u" 2>&1 || true)
        [ "$enabled" = disabled ] || fail "the install left $u $enabled, not disabled"
        [ -z "$(sb systemctl show -P InvocationID "$u")" ] || fail "the install started $u"
done
active=$(sb systemctl list-units --all --plain --no-legend 'codebolt*' | awk '$3 != "inactive"')
[ -z "$active" ] || fail "units of the package are active after the install: $active"
timers=$(sb systemctl list-timers --all --plain --no-legend 'codebolt*')
[ -z "$timers" ] || fail "the install set up a timer: $timers"
# the postinst ran the generator: the server unit's drop-in is there without a daemon-reload of ours
dropin=/run/systemd/generator/codebolt.service.d/50-codebolt-upgrade.conf
sb test -f "$dropin" || fail "no $dropin after the install: the generator did not run"

cbu_registry
cbu_deploy 1.4.0

# every unit the package installs (a template as its instance for 1.5.0), and the server unit with the
# generator's drop-in, verifies without a word; every program they run is the package's
units=$(sb dpkg -L codebolt-upgrade | grep -E '^(/usr)?/lib/systemd/system/[^/]+$')
[ -n "$units" ] || fail "the package installs no unit"
for path in $units; do
        u=$(basename "$path")
        u=${u/@./@1.5.0.}
        out=$(sb systemd-analyze verify "$u" 2>&1) || fail "systemd-analyze verify $u failed: $out"
        [ -z "$out" ] || fail "systemd-analyze verify $u printed: $out"
        for bin in $(sb grep -E '^Exec[A-Za-z]*=' "$path" | sed -E 's/^[^=]+=[-@:+!]*//; s/ .*//'); do
                sb dpkg -S "$bin" >/dev/null 2>&1 || fail "$u runs $bin, which is not the package's"
        done
done
out=$(sb systemd-analyze verify codebolt.service 2>&1) || fail "systemd-analyze verify codebolt.service failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify codebolt.service printed: $out"

sb_log "systemctl start codebolt-upgrade@1.5.0"
sb systemctl start codebolt-upgrade@1.5.0.service || fail "systemctl start codebolt-upgrade@1.5.0 failed"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "/health does not report 1.5.0 after the upgrade"
status=$(sb codebolt-upgrade status)
grep -q '1.4.0 → 1.5.0 succeeded' <<<"$status" || fail "codebolt-upgrade status does not say the upgrade succeeded: $status"

ledger_sum=$(sb sha256sum "$CBU_STATE/ledger.json")
backup=$(sb jq -r 'last | .backup' "$CBU_STATE/ledger.json")
sb test -f "$backup/manifest.json" || fail "the upgrade's backup $backup has no manifest"
server=$(sb systemctl show -P InvocationID codebolt.service)

# expect_kept WHEN: the state, the ledger, the backup and the running server are as the upgrade left them
expect_kept() {
        sb test -f "$CBU_STATE/pin" || fail "$1 removed $CBU_STATE/pin"
        [ "$(sb sha256sum "$CBU_STATE/ledger.json" 2>&1)" = "$ledger_sum" ] || fail "$1 changed or removed the ledger"
        [ "$(sb stat -c '%a' /var/lib/codebolt-upgrade)" = 755 ] || fail "$1 changed /var/lib/codebolt-upgrade"
        sb test -f "$backup/manifest.json" || fail "$1 removed the backup $backup"
        [ "$(sb systemctl show -P InvocationID codebolt.service)" = "$server" ] || fail "$1 restarted or stopped the server"
        [ "$(cbu_health_version)" = 1.5.0 ] || fail "the server does not answer as 1.5.0 after $1"
}

sb_log "apt-get remove codebolt-upgrade"
out=$(sb_apt remove codebolt-upgrade) || fail "apt-get remove failed: $out"
# shellcheck disable=SC2016 # dpkg-query's format, for dpkg-query
[ "$(sb dpkg-query -W -f='${Status}' codebolt-upgrade)" = "deinstall ok config-files" ] ||
        fail "codebolt-upgrade is not removed with its configuration kept: $(sb dpkg-query -W -f='${Status}' codebolt-upgrade)"
for f in /usr/bin/codebolt-upgrade /usr/libexec/codebolt-upgrade /lib/systemd/system-generators/codebolt-upgrade-generator; do
        sb test ! -e "$f" || fail "apt-get remove left $f"
done
sb test -f /etc/codebolt-upgrade/upgrade.conf || fail "apt-get remove removed the configuration file"
expect_kept "apt-get remove"
# the postrm's daemon-reload dropped the generator's drop-in with the generator
sb test ! -e "$dropin" || fail "$dropin is still there after apt-get remove"

sb_log "apt-get purge codebolt-upgrade"
out=$(sb_apt purge codebolt-upgrade) || fail "apt-get purge failed: $out"
# shellcheck disable=SC2016 # dpkg-query's format, for dpkg-query
if grep -q 'config-files\|installed' <<<"$(sb dpkg-query -W -f='${Status}' codebolt-upgrade 2>/dev/null)"; then
        fail "codebolt-upgrade is still known to dpkg after apt-get purge"
fi
sb test ! -e /etc/codebolt-upgrade/upgrade.conf || fail "apt-get purge left /etc/codebolt-upgrade/upgrade.conf"
sb test -f /etc/codebolt-upgrade/credentials/smoke-password || fail "apt-get purge removed the site's credentials"
expect_kept "apt-get purge"

# and the server still starts without the package: no start condition naming a program that is gone
sb systemctl restart codebolt.service || fail "codebolt.service does not restart once the package is purged"
cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60 || fail "Codebolt did not become healthy again after the purge"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "the restarted server is not 1.5.0"
sb_log "PASS"
