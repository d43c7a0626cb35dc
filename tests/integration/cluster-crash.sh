#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The host that holds the cluster slot loses power mid-migration (docs/architecture.md, "Clusters"), on
# 2 hosts behind HAProxy in one cluster world, a roll 1.4.0 → 1.5.6 (rolling; its server takes 8 s
# before each migration) started and each host's unit started by hand:
# 1. while it is down the dead host keeps the slot; once its 30 s lease ran out `cluster status` shows
#    its heartbeat gone; the other host waits for the slot (its STATUS= names the holder), its server
#    untouched and UP in HAProxy;
# 2. it boots again: its boot recovery puts it back on 1.4.0 (rolled-back), UP in HAProxy, and releases
#    the slot; the roll goes on: the other host takes the slot and is upgraded, applying the migrations;
# 3. the operator allows 1.5.6 again on the crashed host and upgrades it: the roll is done, every host on
#    1.5.6, each migration applied once, the seeded rows intact.
# matrix[cluster-crash]: migrations | power cut of the slot holder while its server migrates | old (rolled-back at boot); the slot kept while it is down, released at boot; the other host upgrades, then this one when started again
SB_DISK=1
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/cluster.sh"

V=1.5.6
FIRST=20260315_add_foo_index
SECOND=20260320_partition_event_log

cluster_up 1.4.0 2
cl_data_mark
cl_join_all crash 3s

sem_holders() {
        cl_net etcdctl --endpoints http://127.0.0.3:2379 get /codebolt-upgrade/crash/sem --print-value-only |
                jq -r '.holders[]?'
}
# ledger_for I: host I's ledger entries for $V, as a JSON array
ledger_for() {
        SB_PID=${CL_SB_PID[$1]} cbu_ledger_for "$V"
}
# host_status I ID: the member ID as `cluster status --json` on host I shows it
host_status() {
        cl "$1" codebolt-upgrade cluster status --json | jq -c --arg id "$2" '.hosts[] | select(.id == $id)'
}
roll_field() {
        cl "$1" codebolt-upgrade cluster status --json | jq -r ".roll.$2"
}
# wait_unit_ends I: until host I's upgrade unit no longer works (5 minutes at most)
wait_unit_ends() {
        local state
        for _ in $(seq 600); do
                state=$(cl "$1" systemctl show -P ActiveState "codebolt-upgrade@$V.service")
                [ "$state" != activating ] && [ "$state" != deactivating ] && return 0
                sleep 0.5
        done
        fail "host $1's upgrade to $V did not end: $(cl "$1" systemctl show -P StatusText "codebolt-upgrade@$V.service")"
}

cl 1 codebolt-upgrade cluster start "$V" >/dev/null
roll_id=$(roll_field 1 id)
servers_before=()
for i in 1 2; do
        servers_before[i]=$(cl "$i" systemctl show -P InvocationID codebolt.service)
done
sb_log "cluster-crash: roll $roll_id to $V; both hosts' units started"
for i in 1 2; do
        cl "$i" systemctl start --no-block "codebolt-upgrade@$V.service"
done

# ---- 1. the holder's server migrates: its power goes ----
h=
for _ in $(seq 600); do
        h=$(sem_holders 2>/dev/null || true)
        if [ -n "$h" ] && grep -qF "migrations: applying $FIRST" <<<"$(cl_journal "${h#cb}" codebolt.service)"; then
                break
        fi
        h=
        sleep 0.5
done
[ -n "$h" ] || fail "no host took the slot and started migrating: holders '$(sem_holders)'"
d=${h#cb}
o=$((3 - d))
phase=$(host_status "$o" "$h" | jq -r .phase)
sb_log "host $d ($h) holds the slot and migrates (phase $phase): its power goes; host $o waits"
# the sandboxes share the kernel's boot id: journalctl -b reads both boots of host d, this attempt too
applying_before=$(cl_applied_count "$FIRST")
[ "$applying_before" = 1 ] || fail "$FIRST was started $applying_before times before the power cut"
cl_power_cut "$d"
t_cut=$(date +%s)

[ "$(sem_holders)" = "$h" ] || fail "the dead host does not hold the slot: '$(sem_holders)'"
for _ in $(seq 150); do
        grep -qF "waiting for the cluster slot: held by $h" \
                <<<"$(cl "$o" systemctl show -P StatusText "codebolt-upgrade@$V.service")" && break
        sleep 0.2
done
status=$(cl "$o" systemctl show -P StatusText "codebolt-upgrade@$V.service")
grep -qF "waiting for the cluster slot: held by $h" <<<"$status" ||
        fail "host $o does not say it waits for $h's slot: '$status'"

# the lease of the dead host's heartbeat runs out after 30 s
left=$((t_cut + 31 - $(date +%s)))
[ "$left" -le 0 ] || sleep "$left"
for _ in $(seq 60); do
        hb=$(host_status "$o" "$h" | jq -r .heartbeat)
        [ "$hb" = none ] || [ "$hb" = stale ] && break
        sleep 0.5
done
text=$(cl "$o" codebolt-upgrade cluster status)
sb_log "$(($(date +%s) - t_cut)) s after the cut, host $o's cluster status:"
echo "$text"
entry=$(host_status "$o" "$h")
case $(jq -r .heartbeat <<<"$entry") in
none | stale) ;;
*) fail "$(($(date +%s) - t_cut)) s after the cut, cluster status shows $h's heartbeat alive: $entry" ;;
esac
[ "$(jq -r .slot <<<"$entry")" = true ] || fail "cluster status does not show $h holding the slot: $entry"
awk -v h="$h" '$1 == h' <<<"$text" | grep -qE ' (none|stale)' ||
        fail "cluster status does not print $h's heartbeat gone: $text"
[ "$(sem_holders)" = "$h" ] || fail "the slot moved while its holder is down: '$(sem_holders)'"
status=$(cl "$o" systemctl show -P StatusText "codebolt-upgrade@$V.service")
grep -qF "waiting for the cluster slot: held by $h" <<<"$status" || fail "host $o no longer waits: '$status'"
[ "$(cl "$o" systemctl show -P InvocationID codebolt.service)" = "${servers_before[$o]}" ] ||
        fail "host $o's server was restarted while it waits"
[ "$(cl_health_version "$o")" = 1.4.0 ] || fail "host $o runs '$(cl_health_version "$o")' while it waits"
[ "$(cl_lb_field "$o" status)" = UP ] || fail "HAProxy sees host $o $(cl_lb_field "$o" status) while it waits"

# ---- 2. the dead host boots again: its recovery rolls it back and releases the slot ----
cl_boot_again "$d"
for _ in $(seq 600); do
        entries=$(ledger_for "$d")
        state=$(cl "$d" systemctl show -P ActiveState codebolt-upgrade-recover-check.service)
        if [ "$(jq length <<<"$entries")" -gt 0 ] && [ "$state" != activating ] &&
                cl "$d" test ! -e /var/lib/codebolt-upgrade/default/current.json; then
                break
        fi
        sleep 0.5
done
entry=$(jq -c last <<<"$entries")
[ "$(jq -r .result <<<"$entry")" = rolled-back ] ||
        fail "host $d's boot recovery did not roll $V back: $entry (in flight: $(cl "$d" cat /var/lib/codebolt-upgrade/default/current.json 2>&1))"
recover_start=$(cl "$d" systemctl show -P ExecMainStartTimestampMonotonic codebolt-upgrade-recover.service)
server_start=$(cl "$d" systemctl show -P ExecMainStartTimestampMonotonic codebolt.service)
{ [ "$recover_start" -gt 0 ] && [ "$recover_start" -lt "$server_start" ]; } ||
        fail "host $d's recovery did not run before its server started"
for _ in $(seq 100); do
        [[ " $(sem_holders | tr '\n' ' ') " != *" $h "* ]] && break
        sleep 0.2
done
[[ " $(sem_holders | tr '\n' ' ') " != *" $h "* ]] || fail "host $d still holds the slot after its recovery"
[ "$(cl_health_version "$d")" = 1.4.0 ] || fail "host $d runs '$(cl_health_version "$d")' after its recovery"
[ "$(cl "$d" readlink /opt/codebolt/current)" = releases/1.4.0 ] ||
        fail "host $d's current release is $(cl "$d" readlink /opt/codebolt/current)"
cl_lb_wait "$d" status UP 30 || fail "HAProxy sees host $d $(cl_lb_field "$d" status) after its recovery"
grep -qF "Released the cluster slot of crash" \
        <<<"$(cl_journal "$d" codebolt-upgrade-recover.service; cl_journal "$d" codebolt-upgrade-recover-check.service)" ||
        fail "host $d's recovery does not say it released the slot"
sb_log "host $d is back on 1.4.0 (rolled-back at boot) and released the slot"
observed cluster-crash "old (rolled-back at boot)"

# the roll goes on: the other host takes the slot and is upgraded
wait_unit_ends "$o"
entry=$(ledger_for "$o" | jq -c last)
[ "$(jq -r .result <<<"$entry")" = succeeded ] || fail "host $o's upgrade did not succeed: $entry"
[ "$(jq -r .cluster_place <<<"$entry")" = 1 ] || fail "host $o's place in the roll is not 1: $entry"
[ "$(cl_health_version "$o")" = "$V" ] || fail "host $o runs '$(cl_health_version "$o")'"
[ "$(roll_field "$o" state)" = rolling ] || fail "the roll is not rolling: $(cl "$o" codebolt-upgrade cluster status)"

# ---- 3. the operator allows the version again on the crashed host and upgrades it ----
cl "$d" codebolt-upgrade clear "$V" >/dev/null
cl "$d" systemctl start "codebolt-upgrade@$V.service" || fail "host $d's second upgrade to $V failed"
entry=$(ledger_for "$d" | jq -c last)
[ "$(jq -r .result <<<"$entry")" = succeeded ] || fail "host $d's second upgrade did not succeed: $entry"
[ "$(jq -r .cluster_place <<<"$entry")" = 2 ] || fail "host $d's place in the roll is not 2: $entry"
[ "$(roll_field 1 state)" = "done" ] || fail "the roll is not done: $(cl 1 codebolt-upgrade cluster status)"
[ "$(roll_field 1 id)" = "$roll_id" ] || fail "the roll was replaced: $(cl 1 codebolt-upgrade cluster status)"
[ -z "$(sem_holders)" ] || fail "the slot is still held: $(sem_holders)"
for i in 1 2; do
        [ "$(cl_health_version "$i")" = "$V" ] || fail "host $i runs '$(cl_health_version "$i")'"
        [ "$(cl_lb_field "$i" status)" = UP ] || fail "HAProxy sees host $i $(cl_lb_field "$i" status)"
done
# the migrations ran once after the cut, on host o, and nowhere since
[ "$(cl_applied_count "$FIRST")" = $((applying_before + 1)) ] ||
        fail "$FIRST was applied $(($(cl_applied_count "$FIRST") - applying_before)) times after the power cut"
[ "$(cl_applied_count "$SECOND")" = 1 ] || fail "$SECOND was applied $(cl_applied_count "$SECOND") times"
grep -qF "migrations: 2 applied, 0 failed" <<<"$(cl_journal "$o" codebolt.service)" ||
        fail "host $o's server did not apply both migrations"
for m in "$FIRST" "$SECOND"; do
        [ "$(cl_psql -c "SELECT count(*) FROM schema_migrations WHERE id = '$m'")" = 1 ] ||
                fail "$m is not recorded once in schema_migrations"
done
cl_data_intact "around the power cut"

sb_log "PASS"
