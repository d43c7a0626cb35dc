#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# While an upgrade is in flight, a second one — another version, or the same version escaped
# differently — fails at once naming the one in flight; its failure rolls nothing back, and the first
# upgrade finishes as if nothing had happened.
# matrix[concurrent-second]: preflight | a concurrent second upgrade (another version; the same version escaped differently) | new (succeeded; the second upgrade refused)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/gate.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0
# the first upgrade is held as its stage starts (lib/gate.sh), in flight while the others are tried,
# however long they take on a loaded machine
gate_install stage
gate_arm stage

first='codebolt-upgrade@1.5.0-rc.1.service'
sb systemctl start --no-block "$first"
gate_wait stage >/dev/null || fail "the first upgrade never reached stage"
sb test -e /var/lib/codebolt-upgrade/default/current.json || fail "the first upgrade never opened current.json"

for second in 'codebolt-upgrade@1.5.0\x2drc.1.service' codebolt-upgrade@1.5.0.service; do
        sb_log "systemctl start $second while $first is in flight"
        start=$(date +%s)
        sb systemctl start "$second" 2>/dev/null && fail "$second was accepted while $first was in flight"
        [ $(($(date +%s) - start)) -lt 10 ] || fail "$second took more than 10 s to be refused"
        sb_journal_has "$second" "is in flight (codebolt-upgrade@1.5.0-rc.1" ||
                fail "the refusal of $second does not name the upgrade in flight: $(sb_journal "$second" | tail -n 3)"
        [ "$(sb jq -r .instance /var/lib/codebolt-upgrade/default/current.json)" = 1.5.0-rc.1 ] ||
                fail "current.json no longer belongs to the first upgrade after $second"
done

# the first upgrade goes on to its end
gate_release stage
for _ in $(seq 300); do
        state=$(sb systemctl show -P ActiveState "$first")
        [ "$state" = activating ] || break
        sleep 0.5
done
[ "$(sb systemctl show -P Result "$first")" = success ] || fail "the first upgrade did not succeed (Result $(sb systemctl show -P Result "$first"))"
[ "$(cbu_health_version)" = 1.5.0-rc.1 ] || fail "the server does not run 1.5.0-rc.1"

ledger=$(sb cat /var/lib/codebolt-upgrade/default/ledger.json)
[ "$(jq -r '[.[] | select(.to == "1.5.0-rc.1")] | map(.result) | join(",")' <<<"$ledger")" = "refused,succeeded" ] ||
        [ "$(jq -r '[.[] | select(.to == "1.5.0-rc.1")] | map(.result) | join(",")' <<<"$ledger")" = "succeeded,refused" ] ||
        fail "the ledger for 1.5.0-rc.1 is not one refusal and one success: $(jq -c '[.[] | {to, result}]' <<<"$ledger")"
[ "$(jq -r '[.[] | select(.to == "1.5.0")] | map(.result) | join(",")' <<<"$ledger")" = refused ] ||
        fail "the refused 1.5.0 is not in the ledger as refused"
for unit in 'codebolt-rollback@1.5.0\x2drc.1.service' codebolt-rollback@1.5.0.service; do
        sb_journal_has "$unit" "made no change" || fail "$unit did not leave the first upgrade alone"
done
cbu_observe concurrent-second 1.4.0 1.5.0-rc.1
sb_log "PASS"
