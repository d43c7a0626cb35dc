#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The installed units pass `systemd-analyze verify` without a word (it exits 0 even on unknown keys,
# so any output at all is a failure), and every helper they name is installed.
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install

unitdir=$(pkg-config --variable=systemdsystemunitdir systemd)
for u in codebolt-upgrade@.service codebolt-rollback@.service codebolt-upgrade-recover.service \
        codebolt-upgrade-recover-check.service codebolt.service.d/codebolt-upgrade.conf; do
        sb test -f "$unitdir/$u" || fail "$u is not installed in $unitdir"
done

# a server unit for the upgrade to talk about, as the operator has one
sb tee /etc/systemd/system/codebolt.service >/dev/null <<'UNIT'
[Service]
User=codebolt
ExecStart=/opt/codebolt/current/bin/codebolt-server
UNIT
sb systemctl daemon-reload

for u in codebolt-upgrade@1.5.0.service 'codebolt-upgrade@1.5.0\x2drc.1.service' codebolt-rollback@1.5.0.service \
        codebolt-upgrade-recover.service codebolt-upgrade-recover-check.service; do
        out=$(sb systemd-analyze verify "$u" 2>&1) || fail "systemd-analyze verify $u failed: $out"
        [ -z "$out" ] || fail "systemd-analyze verify $u printed: $out"
done

# the server waits for the recovery of an interrupted upgrade, through the shipped drop-in
wants=$(sb systemctl show -P Wants codebolt.service)
after=$(sb systemctl show -P After codebolt.service)
grep -qw codebolt-upgrade-recover.service <<<"$wants" || fail "codebolt.service does not want codebolt-upgrade-recover.service"
grep -qw codebolt-upgrade-recover.service <<<"$after" ||
        fail "codebolt.service is not ordered after codebolt-upgrade-recover.service"

# every Exec line names an installed, executable helper
for u in codebolt-upgrade@.service codebolt-rollback@.service codebolt-upgrade-recover.service \
        codebolt-upgrade-recover-check.service; do
        for bin in $(sb grep -E '^Exec[A-Za-z]*=' "$unitdir/$u" | sed -E 's/^[^=]+=[-@:+!]*//; s/ .*//'); do
                sb test -x "$bin" || fail "$u names $bin, which is not installed"
        done
done
sb test -x /usr/bin/codebolt-upgrade || fail "the codebolt-upgrade command is not installed"
sb_log "PASS"
