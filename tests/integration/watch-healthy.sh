#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A healthy upgrade (1.4.0 → 1.5.13) watched for Period=3min every Interval=10s with steady agent runs,
# and the machine losing power a minute in: the watch continues after the boot (its timer is enabled,
# its period counted from the upgrade), raises no alarm, and ends after the period with the verdict ok
# in the ledger, its timer disabled.
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

SB_DISK=1 # the upper layer on disk: the power cut below keeps it
sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0
# the watch scaled down to 3 minutes: over so short a period a server's warm-up after its start (a few
# MiB) projects to GB a day, so MemoryGrowth= is scaled too; watch-degraded's leak (4 MiB/s) projects
# to about 330 GB a day and is flagged with the same setting
cbu_watch_conf 3min 10s MemoryGrowth=5G
cbu_traffic "$CBU_PORT"
sleep 12 # agent runs for the baseline

sb_log "systemctl start codebolt-upgrade@1.5.13"
sb systemctl start codebolt-upgrade@1.5.13.service || fail "the upgrade to 1.5.13 failed"
upgraded=$(date +%s)
[ "$(sb systemctl is-active codebolt-upgrade-watch@1.5.13.timer || true)" = active ] || fail "the watch timer is not active after the upgrade"
baseline=$(sb jq -c .baseline "$CBU_STATE/watch.json")
jq -e '.runs_succeeded >= 5 and .errors == 0 and .memory_max > 0' <<<"$baseline" >/dev/null ||
        fail "the baseline taken before the upgrade is not complete: $baseline"

# a minute in, the power goes; the server and the traffic come back after the boot
sleep 60
before=$(sb jq '.samples | length' "$CBU_STATE/watch.json")
[ "$before" -ge 4 ] || fail "only $before samples in the first minute"
sandbox_power_cut
sandbox_boot_again
cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 90 || fail "codebolt.service did not come back after the boot"
cbu_traffic "$CBU_PORT"
[ "$(sb systemctl is-active codebolt-upgrade-watch@1.5.13.timer || true)" = active ] || fail "the watch timer did not come back after the boot"

# until the period is over (from the upgrade, not the boot)
for _ in $(seq 400); do
        [ "$(sb jq -r .state "$CBU_STATE/watch.json" 2>/dev/null)" = ended ] && break
        sleep 0.5
done
w=$(sb cat "$CBU_STATE/watch.json")
[ "$(jq -r .state <<<"$w")" = ended ] || fail "the watch did not end after its period: $(jq -c '{state, elapsed}' <<<"$w")"
ended=$(date +%s)
[ $((ended - upgraded)) -ge 175 ] || fail "the watch ended $((ended - upgraded)) s after the upgrade, before its period of 3 min"
[ $((ended - upgraded)) -le 300 ] || fail "the watch ended only $((ended - upgraded)) s after the upgrade"
after=$(jq '.samples | length' <<<"$w")
[ "$after" -gt "$before" ] || fail "no sample was taken after the boot ($before before, $after at the end)"
[ "$(jq -r .verdict <<<"$w")" = ok ] || fail "the healthy version's watch ended $(jq -r .verdict <<<"$w"): $(jq -c .degraded <<<"$w")"
jq -e 'has("degraded") | not' <<<"$w" >/dev/null || fail "a false alarm on the healthy version: $(jq -c .degraded <<<"$w")"
[ "$(cbu_ledger_for 1.5.13 | jq -r 'last | .watch')" = ok ] || fail "the ledger's watch verdict is not ok: $(cbu_ledger_for 1.5.13)"
[ "$(sb systemctl is-enabled codebolt-upgrade-watch@1.5.13.timer || true)" = disabled ] || fail "the watch timer is still enabled"
[ "$(sb systemctl is-active codebolt-upgrade-watch@1.5.13.timer || true)" = inactive ] || fail "the watch timer is still active"
sb journalctl --sync
alarms=$(sb journalctl --no-pager -o cat MESSAGE_ID=4c31bc9882ad4262b0d42ed74c11ec54)
[ -z "$alarms" ] || fail "a degraded event was logged for the healthy version: $alarms"
grep -q '^Watch: .*1.5.13: ended, ok' <<<"$(sb codebolt-upgrade status)" || fail "status does not show the ended watch: $(sb codebolt-upgrade status)"
sb_log "PASS"
