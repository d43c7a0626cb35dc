#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The server unit's start condition (ExecCondition=codebolt-upgrade server-may-start, from the shipped
# drop-in). (a) An operator pins 1.4.0, then installs 1.5.0 by hand with npm into the running release:
# with [Policy] EnforcePin=yes the server does not start and its journal names both versions;
# EnforcePin=warn starts it with a warning; `codebolt-upgrade pin 1.5.0`, or reinstalling 1.4.0, fixes
# it. (b) While an upgrade holds the server stopped, a hand `systemctl start` and `restart` are refused,
# `codebolt-upgrade pin` is refused, and the upgrade still ends succeeded.
# matrix[hand-start]: snapshot | a hand systemctl start and restart of the server while the upgrade holds it stopped | new (both refused by the start condition)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/gate.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0
gate_install snapshot

# hand_install VERSION: what an operator's `npm install -g …@VERSION` into the running release does
hand_install() {
        sb runuser -u codebolt -- env HOME=/tmp/npm-home npm install -g --no-audit --no-fund --loglevel=warn \
                --prefix /opt/codebolt/releases/1.4.0 --registry "http://127.0.0.1:$CBU_REGISTRY_PORT/" \
                "@codebolt/server@$1" >/dev/null
}

# server_journal_since CURSOR: the server unit's messages after CURSOR
cursor() {
        sb journalctl --sync
        sb journalctl -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p'
}
server_journal_since() {
        sb journalctl --sync
        sb journalctl --no-pager -o cat -u codebolt.service --after-cursor="$1"
}

# this scenario starts the server more often than StartLimitBurst= allows in its interval
server() {
        sb systemctl reset-failed codebolt.service 2>/dev/null || true
        sb systemctl "$1" codebolt.service
}

set_enforce_pin() {
        sb sed -i '/^\[Policy\]$/d; /^EnforcePin=/d' /etc/codebolt-upgrade/upgrade.conf
        [ -z "$1" ] || sb sh -c "printf '[Policy]\nEnforcePin=$1\n' >>/etc/codebolt-upgrade/upgrade.conf"
        # the generator reads it
        sb systemctl daemon-reload
}

# ---- (a) the pin check ----
out=$(sb codebolt-upgrade pin 1.4.0) || fail "codebolt-upgrade pin 1.4.0 failed: $out"
grep -qF 'pinned to 1.4.0 now' <<<"$out" || fail "codebolt-upgrade pin does not say what it changed: $out"
[ "$(sb cat "$CBU_STATE/pin")" = 1.4.0 ] || fail "the pin file does not say 1.4.0"
out=$(sb codebolt-upgrade pin latest 2>&1) && fail "codebolt-upgrade pin latest was accepted: $out"

sb_log "npm install -g @codebolt/server@1.5.0 by hand into releases/1.4.0, then systemctl restart"
hand_install 1.5.0
c=$(cursor)
server restart || true
[ "$(sb systemctl is-active codebolt.service)" != active ] ||
        fail "codebolt.service started on a hand-installed 1.5.0 with the pin on 1.4.0 (EnforcePin=yes)"
out=$(server_journal_since "$c")
grep -F 'pinned to 1.4.0' <<<"$out" | grep -qF 'installed version is 1.5.0' ||
        fail "the server's journal does not name the pin and the installed version: $out"
grep -qF 'codebolt-upgrade pin 1.5.0' <<<"$out" || fail "the refusal does not say how to pin what is installed: $out"
sb curl -fsS --max-time 2 "http://127.0.0.1:$CBU_PORT/health" >/dev/null 2>&1 && fail "a server answers /health"

sb_log "EnforcePin=warn: it starts, with a warning"
set_enforce_pin warn
c=$(cursor)
server start
cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60 || fail "codebolt.service did not start with EnforcePin=warn"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "/health does not report the hand-installed 1.5.0"
out=$(sb journalctl --sync; sb journalctl --no-pager -o short -p warning -u codebolt.service --after-cursor="$c")
grep -F 'pinned to 1.4.0' <<<"$out" | grep -qF 'EnforcePin=warn' ||
        fail "no warning in the server's journal with EnforcePin=warn: $out"
server stop
set_enforce_pin ""

sb_log "codebolt-upgrade pin 1.5.0: the change was meant"
out=$(sb codebolt-upgrade pin 1.5.0) || fail "codebolt-upgrade pin 1.5.0 failed: $out"
grep -qF 'pinned to 1.5.0 now (it was pinned to 1.4.0)' <<<"$out" || fail "pin does not say what it changed: $out"
server start
cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60 || fail "codebolt.service did not start once pinned to 1.5.0"
server stop

sb_log "pinned back to 1.4.0, and 1.4.0 reinstalled: it starts"
sb codebolt-upgrade pin 1.4.0 >/dev/null
server start || true
[ "$(sb systemctl is-active codebolt.service)" != active ] || fail "codebolt.service started on 1.5.0 pinned to 1.4.0"
hand_install 1.4.0
server start
cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60 || fail "codebolt.service did not start on the reinstalled 1.4.0"
[ "$(cbu_health_version)" = 1.4.0 ] || fail "/health does not report 1.4.0 after the reinstall"

# ---- (b) no hand start while an upgrade holds the server stopped ----
sb_log "the upgrade to 1.5.0, held before its snapshot with the server stopped"
gate_arm snapshot
sb systemctl start --no-block codebolt-upgrade@1.5.0.service
gate_wait snapshot >/dev/null || fail "the upgrade did not reach its snapshot"
[ "$(sb systemctl is-active codebolt.service)" != active ] || fail "the drain did not stop codebolt.service"

# refused by the start condition, nothing else: inactive with the result exec-condition
refused_by_condition() {
        local state
        state=$(sb systemctl show -P ActiveState codebolt.service)/$(sb systemctl show -P Result codebolt.service)
        [ "$state" = inactive/exec-condition ] ||
                fail "a hand systemctl $1 in the middle of the upgrade was not refused by the start condition ($state)"
}
c=$(cursor)
server start || true
refused_by_condition start
server restart || true
refused_by_condition restart
out=$(server_journal_since "$c")
grep -F 'Refusing to start codebolt.service' <<<"$out" | grep -F '1.4.0 → 1.5.0' | grep -F 'phase drain' |
        grep -qF 'codebolt-upgrade status' || fail "the server's journal does not say why the start was refused: $out"
out=$(sb codebolt-upgrade pin 1.3.0 2>&1) && fail "codebolt-upgrade pin was accepted during the upgrade: $out"
grep -qF 'in flight' <<<"$out" || fail "the refused pin does not name the upgrade in flight: $out"
[ "$(sb cat "$CBU_STATE/pin")" = 1.4.0 ] || fail "the pin changed during the upgrade"

gate_release snapshot
for _ in $(seq 600); do
        state=$(sb systemctl show -P ActiveState codebolt-upgrade@1.5.0.service)
        [ "$state" = activating ] || break
        sleep 0.5
done
entry=$(cbu_ledger_for 1.5.0 | jq -c last)
[ "$(jq -r .result <<<"$entry")" = succeeded ] || fail "the upgrade did not succeed after the refused starts: $entry"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "/health does not report 1.5.0 after the upgrade"
[ "$(sb cat "$CBU_STATE/pin")" = 1.5.0 ] || fail "the pin is not 1.5.0 after the upgrade"
sb_journal_has codebolt.service 'as its migrate-watch asks' || fail "the upgrade's own start was not let through"

cbu_observe hand-start 1.4.0 1.5.0

# and after it, a plain restart passes the pin check
server restart
cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60 || fail "codebolt.service did not restart after the upgrade"
sb_log "ok"
