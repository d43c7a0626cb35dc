#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What goes wrong around a rolling cluster upgrade, on 2 hosts behind HAProxy in one cluster world, a
# roll 1.4.0 → 1.5.0 started and each host's unit started by hand (first refused while host 2's server
# is DOWN in HAProxy: cluster start names it):
# 1. host 1's HAProxy admin socket does not answer: its upgrade is refused in preflight, before any
#    drain; its server keeps running, UP in HAProxy, and no slot is taken;
# 2. etcd is down when host 1's upgrade starts: refused (the roll cannot be read), server untouched;
# 3. etcd goes down after host 1 took the slot: host 1 finishes its upgrade on its own, and once etcd is
#    back the roll counts it as upgraded and its slot is free;
# 4. host 2 then takes its turn, and etcd goes down for longer than its finish keeps trying (a minute):
#    the upgrade succeeds, what etcd missed waits in cluster-pending.json with the slot still held, and
#    once etcd is back host 2's follower replays it: the slot is free and the roll is done.
# matrix[cluster-haproxy]: preflight | HAProxy's admin socket does not answer | old (refused); never drained, still UP, no slot taken
# matrix[cluster-etcd-down]: slot | etcd down before the slot, then after it | old (refused) before; new (succeeded) after, recorded once etcd is back
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/cluster.sh"

cluster_up 1.4.0 2
cl_data_mark
cl_join_all faults 3s
# a member's server DOWN in HAProxy: cluster start refuses, naming it
cl 2 systemctl stop codebolt.service
cl_lb_wait 2 status DOWN 30 || fail "HAProxy sees host 2 $(cl_lb_field 2 status) with its server stopped"
rc=0
out=$(cl 1 codebolt-upgrade cluster start 1.5.0 2>&1) || rc=$?
[ "$rc" = 2 ] || fail "cluster start with host 2 DOWN exited $rc, not 2: $out"
grep -qF "Refused: member cb2 (server $CL_BACKEND/cb2) is DOWN in HAProxy" <<<"$out" ||
        fail "the refusal does not name the member that is down: $out"
[ "$(cl 1 codebolt-upgrade cluster status --json | jq -c .roll)" = null ] || fail "a roll was written with host 2 DOWN"
cl 2 systemctl start codebolt.service
cl_lb_wait 2 status UP 30 || fail "HAProxy sees host 2 $(cl_lb_field 2 status) after its start"
cl 1 codebolt-upgrade cluster start 1.5.0 >/dev/null
roll_id=$(cl 1 codebolt-upgrade cluster status --json | jq -r .roll.id)
sem_holders() {
        cl_net etcdctl --endpoints http://127.0.0.3:2379 get /codebolt-upgrade/faults/sem --print-value-only |
                jq -r '.holders[]?'
}
ledger_last() {
        cl "$1" cat /var/lib/codebolt-upgrade/default/ledger.json | jq -c last
}
# rollback_result I ENTRIES: once host I's rollback of 1.5.0 ended with more than ENTRIES entries for
# 1.5.0 in its ledger, the last one's result
rollback_result() {
        SB_PID=${CL_SB_PID[$1]} cbu_wait_rollback 1.5.0 "$2"
}
# start_until_slot I: start host I's upgrade, and wait until it holds the slot
start_until_slot() {
        cl "$1" systemctl start --no-block codebolt-upgrade@1.5.0.service
        for _ in $(seq 600); do
                grep -qF "Took the cluster slot of faults" <<<"$(cl_journal "$1" codebolt-upgrade@1.5.0.service)" && break
                sleep 0.2
        done
        [ "$(sem_holders)" = "cb$1" ] || fail "host $1 does not hold the slot: '$(sem_holders)'"
}
# wait_unit_over I SECONDS: until host I's upgrade unit is inactive, for at most SECONDS
wait_unit_over() {
        for _ in $(seq $(($2 * 5))); do
                [ "$(cl "$1" systemctl is-active codebolt-upgrade@1.5.0.service)" = inactive ] && return 0
                sleep 0.2
        done
}
server_before=$(cl 1 systemctl show -P InvocationID codebolt.service)

# ---- 1. the admin socket does not answer ----
sb_log "cluster-haproxy: host 1's HAProxy admin socket does not answer"
cl_cluster_config 1 faults 3s tcp:127.0.0.10:9998
! cl 1 systemctl start codebolt-upgrade@1.5.0.service || fail "the upgrade ran without HAProxy's admin socket"
result=$(rollback_result 1 0) || fail "the refusal did not end: $result"
[ "$result" = refused ] || fail "host 1's upgrade without an admin socket ended '$result': $(ledger_last 1)"
out=$(cl_journal 1 codebolt-upgrade@1.5.0.service)
grep -qF "gate balancer: fail" <<<"$out" || fail "the refusal does not name the balancer gate: $out"
! grep -qF "out of the load balancer" <<<"$out" || fail "host 1 was drained without an admin socket"
[ "$(cl 1 systemctl show -P InvocationID codebolt.service)" = "$server_before" ] || fail "host 1's server was restarted"
[ "$(cl_lb_field 1 status)" = UP ] || fail "HAProxy sees host 1 $(cl_lb_field 1 status)"
[ -z "$(sem_holders)" ] || fail "a slot was taken: $(sem_holders)"
observed cluster-haproxy "old (refused)"
cl_cluster_config 1 faults 3s

# ---- 2. etcd down before the slot ----
sb_log "cluster-etcd-down: etcd stopped, then host 1's upgrade started"
cl_etcd_stop
! cl 1 systemctl start codebolt-upgrade@1.5.0.service || fail "the upgrade ran without etcd"
result=$(rollback_result 1 1) || fail "the refusal did not end: $result"
[ "$result" = refused ] || fail "host 1 did not end refused without etcd: $(ledger_last 1)"
grep -qF "cannot read the roll of cluster faults" <<<"$(cl_journal 1 codebolt-upgrade@1.5.0.service)" ||
        fail "the refusal does not say etcd could not be read"
[ "$(cl 1 systemctl show -P InvocationID codebolt.service)" = "$server_before" ] || fail "host 1's server was restarted"
[ "$(cl_health_version 1)" = 1.4.0 ] || fail "host 1 runs '$(cl_health_version 1)'"
cl_etcd_start
cl_wait_net 30 etcdctl --endpoints http://127.0.0.3:2379 get /codebolt-upgrade/faults/roll ||
        fail "etcd did not come back"

# ---- 3. etcd down after the slot ----
sb_log "cluster-etcd-down: host 1 takes the slot, then etcd stops"
cl_load_start 50
start_until_slot 1
cl_etcd_stop
# host 1 goes on by itself; its finish cannot tell etcd and keeps trying
for _ in $(seq 900); do
        grep -qF "Cannot tell etcd that this host's part in roll $roll_id is upgraded" \
                <<<"$(cl_journal 1 codebolt-upgrade@1.5.0.service)" && break
        sleep 0.2
done
grep -qF "Cannot tell etcd" <<<"$(cl_journal 1 codebolt-upgrade@1.5.0.service)" ||
        fail "host 1's finish did not reach etcd's outage: $(cl_journal 1 codebolt-upgrade@1.5.0.service | tail -n 20)"
[ "$(cl_health_version 1)" = 1.5.0 ] || fail "host 1 runs '$(cl_health_version 1)' while etcd is down"
sleep 3
cl_etcd_start
wait_unit_over 1 120
entry=$(ledger_last 1)
[ "$(jq -r .result <<<"$entry")" = succeeded ] || fail "host 1's upgrade did not succeed: $entry"
[ "$(jq -r .cluster_place <<<"$entry")" = 1 ] || fail "host 1's place in the roll is not 1: $entry"
[ -z "$(sem_holders)" ] || fail "the slot is still held after etcd came back: $(sem_holders)"
[ "$(cl 1 codebolt-upgrade cluster status --json | jq -r '.roll.upgraded | join(" ")')" = cb1 ] ||
        fail "the roll does not count host 1: $(cl 1 codebolt-upgrade cluster status)"
cl 1 test ! -e /var/lib/codebolt-upgrade/default/cluster-pending.json || fail "something is still pending for etcd"

# ---- 4. host 2's turn, and etcd down for longer than finish waits ----
sb_log "cluster-etcd-down: host 2 takes the slot, then etcd stops for more than a minute"
start_until_slot 2
cl_etcd_stop
# finish gives up after a minute and keeps what etcd must learn in cluster-pending.json
wait_unit_over 2 240
[ "$(jq -r .result <<<"$(ledger_last 2)")" = succeeded ] || fail "host 2's upgrade did not succeed without etcd: $(ledger_last 2)"
grep -qF "etcd still unreachable: kept in /var/lib/codebolt-upgrade/default/cluster-pending.json" \
        <<<"$(cl_journal 2 codebolt-upgrade@1.5.0.service)" || fail "host 2 did not keep what etcd missed"
pending=$(cl 2 cat /var/lib/codebolt-upgrade/default/cluster-pending.json) || fail "no cluster-pending.json on host 2"
# shellcheck disable=SC2016 # $r is jq's
jq -e --arg r "$roll_id" '.roll == $r and .record == "upgraded" and .slot' <<<"$pending" >/dev/null ||
        fail "host 2's cluster-pending.json: $pending"
# etcd is back: host 2's follower replays it
cl_etcd_start
cl_wait_net 30 etcdctl --endpoints http://127.0.0.3:2379 get /codebolt-upgrade/faults/roll >/dev/null ||
        fail "etcd did not come back"
[ "$(sem_holders)" = cb2 ] || fail "the slot changed hands while etcd was down: '$(sem_holders)'"
cl 2 systemctl start codebolt-upgrade-cluster.service
for _ in $(seq 300); do
        cl 2 test -e /var/lib/codebolt-upgrade/default/cluster-pending.json || break
        sleep 0.2
done
cl 2 test ! -e /var/lib/codebolt-upgrade/default/cluster-pending.json ||
        fail "host 2's follower did not replay cluster-pending.json: $(cl_journal 2 codebolt-upgrade-cluster.service | tail -n 20)"
grep -qF "Told etcd what it had missed of roll $roll_id (upgraded)" <<<"$(cl_journal 2 codebolt-upgrade-cluster.service)" ||
        fail "host 2's follower does not say it replayed the roll"
[ -z "$(sem_holders)" ] || fail "the slot is still held after the replay: $(sem_holders)"
sleep 1
cl_load_stop
[ "$(cl 1 codebolt-upgrade cluster status --json | jq -r .roll.state)" = "done" ] ||
        fail "the roll is not done: $(cl 1 codebolt-upgrade cluster status)"
for i in 1 2; do
        [ "$(cl_health_version "$i")" = 1.5.0 ] || fail "host $i runs '$(cl_health_version "$i")'"
        [ "$(cl_lb_field "$i" status)" = UP ] || fail "HAProxy sees host $i $(cl_lb_field "$i" status)"
done
[ "$CL_LOAD_FAILED" = 0 ] || fail "$CL_LOAD_FAILED of $CL_LOAD_REQUESTS requests failed: $(cl_load_failures | head -n 10)"
cl_data_intact "around the faults"
observed cluster-etcd-down "old (refused) before; new (succeeded) after"

sb_log "PASS"
