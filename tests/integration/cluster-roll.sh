#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Rolling upgrades of 3 Codebolt hosts behind HAProxy, coordinated through etcd, under 50 logged-in API
# calls a second, in one cluster world:
# 1. 1.4.0 → 1.5.0: `cluster start 1.5.0` on host 1, and each host's follower
#    (codebolt-upgrade-cluster.service) starts its own codebolt-upgrade@1.5.0, once. They stage side by side and take the slot one at a time (sampled: never two holders), each
#    leaves HAProxy before its drain and comes back UP; the first migrates, the others find the
#    migrations applied; no request fails; every host runs 1.5.0 and the roll is done; each ledger entry
#    names the roll and the host's place in it; the webhook hears roll-started, host-upgraded (3 times)
#    and roll-done. Only the migrator dumps the shared database. A row deleted (as by a user of
#    another host) after the first host's backup does not fail that host's smoke test.
# 2. 1.5.0 → 1.5.16, whose smoke test fails on the second host that starts it: the first host is
#    upgraded, the second rolls back (minor: the database is shared) and is UP in HAProxy on 1.5.0
#    again, the roll is paused, and the third host, waiting for the slot, ends refused with its server
#    untouched; the webhook hears roll-paused. No request fails.
# 3. `cluster abort` of that paused roll: the first host's follower starts its rollback, which waits for
#    the slot, leaves HAProxy, goes back to 1.5.0 and comes back UP; the roll ends aborted, every host
#    on 1.5.0, no request failed.
# matrix[cluster-roll]: slot | none: 3 hosts roll 1.4.0 → 1.5.0 | new (succeeded); one slot holder at a time, 0 failed requests, the roll done
# matrix[cluster-abort]: rollback | cluster abort after one host upgraded | old (rolled-back); reverted through the slot, the roll aborted, 0 failed requests
# matrix[cluster-fail-second]: smoke | the smoke test fails on the second host of the roll | old (rolled-back); the first stays new, the third refused and untouched, the roll paused, 0 failed requests
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/cluster.sh"

cluster_up 1.4.0 3
cl_data_mark

# a webhook receiver every host notifies
cl_background webhook node "$CBU_FIXTURES/webhook/receiver.js" --port 8089 --out "$CL_DIR/webhook.jsonl"
cl_wait_net 30 curl -fsS -o /dev/null http://127.0.0.1:8089/ || fail "the webhook receiver did not answer"
# hooks_count EVENT ROLL: how many EVENT notifications of roll ROLL the receiver got
hooks_count() {
        jq -s --arg e "$1" --arg r "$2" '[.[] | select(.body.event == $e and .body.roll == $r
                and .body.cluster == "test")] | length' "$CL_DIR/webhook.jsonl"
}

# each host a member of cluster "test", its follower running
for i in 1 2 3; do
        cl_cluster_config "$i" test 3s
        printf '[Notify]\nURL=http://127.0.0.1:8089/hook\n' | cl "$i" tee /etc/codebolt-upgrade/upgrade.conf.d/60-notify.conf >/dev/null
        cl "$i" systemctl start codebolt-upgrade-cluster.service
done
# each follower joins its host
for _ in $(seq 100); do
        n=$(cl 1 codebolt-upgrade cluster status --json 2>/dev/null | jq '[.hosts[] | select(.member)] | length')
        [ "$n" = 3 ] && break
        sleep 0.2
done
[ "$n" = 3 ] || fail "not every follower joined its host: $(cl 1 codebolt-upgrade cluster status 2>&1)"

# sem_holders: the slot's holders now, one per line
sem_holders() {
        cl_net etcdctl --endpoints http://127.0.0.3:2379 get /codebolt-upgrade/test/sem --print-value-only |
                jq -r '.holders[]?'
}

# roll VERSION: `cluster start VERSION` on host 1, then sample the slot until the roll is no longer
# rolling and no unit works on any host; sets MAX_HOLDERS (the most holders seen at once) and
# HOLDERS_SEEN (each holder, in the order seen)
roll() {
        local v=$1 n h holders
        MAX_HOLDERS=0 HOLDERS_SEEN=
        cl 1 codebolt-upgrade cluster start "$v" >/dev/null
        for _ in $(seq 1500); do
                holders=$(sem_holders 2>/dev/null || true)
                n=$(grep -c . <<<"$holders" || true)
                [ "$n" -le "$MAX_HOLDERS" ] || MAX_HOLDERS=$n
                for h in $holders; do
                        [[ " $HOLDERS_SEEN " == *" $h "* ]] || HOLDERS_SEEN="$HOLDERS_SEEN $h"
                done
                [ "$(roll_field state)" != rolling ] && ! cl_units_busy "$v" && return 0
                sleep 0.2
        done
        fail "the roll to $v did not end within 5 minutes: $(cl 1 codebolt-upgrade cluster status)"
}

# roll_field FIELD: FIELD of the roll as `cluster status --json` shows it
roll_field() {
        cl 1 codebolt-upgrade cluster status --json | jq -r ".roll.$1"
}

# ---- 1. 1.4.0 → 1.5.0 on every host ----
# a user deletes rows while the roll goes on (through another host): once the first host's backup is
# done, two rows made for it go (two: the smoke test's own agent run adds one); that host's smoke test
# must not count them as lost
extra_id=$(cl_psql -c "INSERT INTO history (project_id, entry, created_at)
                       SELECT min(id), 'deleted during the roll', now() FROM projects, generate_series(1, 2)
                       GROUP BY generate_series RETURNING id" | xargs | tr ' ' ,)
delete_after_first_backup() {
        local i
        for _ in $(seq 1500); do
                for i in 1 2 3; do
                        if cl "$i" jq -e '.phases | index("backup")' /var/lib/codebolt-upgrade/default/current.json >/dev/null 2>&1; then
                                cl_psql -c "DELETE FROM history WHERE id IN ($extra_id)"
                                echo "$i"
                                return 0
                        fi
                done
                sleep 0.2
        done
        return 1
}
delete_after_first_backup >"$CL_DIR/deleted-after" &
deleter=$!
cl_load_start 50
sleep 2
t0=$(date +%s%N)
sb_log "cluster-roll: cluster start 1.5.0 on host 1"
roll 1.5.0
roll_id=$(roll_field id)
wait "$deleter" || fail "no host's backup was seen done: the row was not deleted"
first=$(cat "$CL_DIR/deleted-after")
roll_ms=$((($(date +%s%N) - t0) / 1000000))
sleep 1
cl_load_stop
sb_log "cluster-roll: $((roll_ms / 1000)).$((roll_ms % 1000 / 100)) s; $CL_LOAD_REQUESTS requests, $CL_LOAD_FAILED failed;" \
        "slot holders in turn:$HOLDERS_SEEN"

[ "$CL_LOAD_FAILED" = 0 ] || fail "$CL_LOAD_FAILED of $CL_LOAD_REQUESTS requests failed during the roll: $(cl_load_failures | head -n 10)"
[ "$MAX_HOLDERS" = 1 ] || fail "the slot had $MAX_HOLDERS holders at once"
[ "$(wc -w <<<"$HOLDERS_SEEN")" = 3 ] || fail "not every host was seen holding the slot:$HOLDERS_SEEN"
[ -z "$(sem_holders)" ] || fail "the slot is still held after the roll: $(sem_holders)"
[ "$(roll_field state)" = "done" ] || fail "the roll is $(roll_field state), not done: $(cl 1 codebolt-upgrade cluster status)"
places=
for i in 1 2 3; do
        [ "$(cl_health_version "$i")" = 1.5.0 ] || fail "host $i reports '$(cl_health_version "$i")', not 1.5.0"
        [ "$(cl_lb_field "$i" status)" = UP ] || fail "HAProxy sees host $i $(cl_lb_field "$i" status)"
        entry=$(cl "$i" cat /var/lib/codebolt-upgrade/default/ledger.json | jq -c 'last')
        [ "$(jq -r .result <<<"$entry")" = succeeded ] || fail "host $i's ledger: $entry"
        [ "$(jq -r .cluster_roll <<<"$entry")" = "$roll_id" ] || fail "host $i's ledger entry names no roll $roll_id: $entry"
        places="$places $(jq -r .cluster_place <<<"$entry")"
        out=$(cl_journal "$i" "codebolt-upgrade@1.5.0.service")
        grep -qF "Took the cluster slot of test for roll $roll_id" <<<"$out" || fail "host $i never took the slot: $out"
        grep -qF "no snapshot of database codebolt (the other hosts write to it)" <<<"$out" ||
                fail "host $i took a database snapshot in a rolling upgrade"
        grep -qF "Soak passed" <<<"$out" || fail "host $i did not soak"
        # out of HAProxy before the app's drain, back after the smoke test
        grep -qF "codebolt/cb$i is out of the load balancer" <<<"$out" || fail "host $i was not taken out of HAProxy: $out"
done
[ "$(tr ' ' '\n' <<<"$places" | sort -n | xargs)" = "1 2 3" ] || fail "the hosts' places in the roll are$places"
# only the migrator dumped the shared database; the row deleted after the first host's backup did not
# fail its smoke test, and no other host saw it
dumped=0
for i in 1 2 3; do
        out=$(cl_journal "$i" "codebolt-upgrade@1.5.0.service")
        grep -qF "the migrator backs up the shared database codebolt" <<<"$out" || dumped=$((dumped + 1))
        if [ "$i" = "$first" ]; then
                grep -qF "1 table has fewer rows than at this host's backup" <<<"$out" ||
                        fail "host $i's smoke test did not see the row deleted after its backup: $(grep -F smoke <<<"$out")"
        else
                ! grep -qF "fewer rows than at this host's backup" <<<"$out" || fail "host $i saw a row deleted before its backup"
        fi
done
[ "$dumped" = 1 ] || fail "$dumped hosts dumped the database, not only the migrator"
# each follower started its host's unit once, recorded first in follower.json
for i in 1 2 3; do
        n=$(cl_journal "$i" codebolt-upgrade-cluster.service | grep -c "Roll $roll_id to 1.5.0: starting codebolt-upgrade@1.5.0.service" || true)
        [ "$n" = 1 ] || fail "host $i's follower started codebolt-upgrade@1.5.0.service $n times, not once"
        # shellcheck disable=SC2016 # $r is jq's
        cl "$i" jq -e --arg r "$roll_id" '.roll == $r' /var/lib/codebolt-upgrade/default/follower.json >/dev/null ||
                fail "host $i's follower.json: $(cl "$i" cat /var/lib/codebolt-upgrade/default/follower.json 2>&1)"
done
# the webhook heard the roll start, each host upgraded with its place, the roll done: once each
[ "$(hooks_count roll-started "$roll_id")" = 1 ] || fail "roll-started was sent $(hooks_count roll-started "$roll_id") times"
[ "$(hooks_count host-upgraded "$roll_id")" = 3 ] || fail "host-upgraded was sent $(hooks_count host-upgraded "$roll_id") times, not 3"
# shellcheck disable=SC2016 # $r is jq's
[ "$(jq -rs --arg r "$roll_id" '[.[] | select(.body.event == "host-upgraded" and .body.roll == $r) | .body.place]
        | sort | map(tostring) | join(" ")' "$CL_DIR/webhook.jsonl")" = "1 2 3" ] || fail "the host-upgraded notifications do not carry the places 1 2 3"
[ "$(hooks_count roll-done "$roll_id")" = 1 ] || fail "roll-done was sent $(hooks_count roll-done "$roll_id") times, not once"
# some host waited for the slot, and said for whom
waited=0
for i in 1 2 3; do
        grep -q "Waiting for the cluster slot of test: held by cb" <<<"$(cl_journal "$i" "codebolt-upgrade@1.5.0.service")" && waited=1
done
[ "$waited" = 1 ] || fail "no host waited for the slot: they did not overlap"
for m in 20260315_add_foo_index 20260320_partition_event_log; do
        n=$(cl_applied_count "$m")
        [ "$n" = 1 ] || fail "migration $m of 1.5.0 was applied by $n servers, not 1"
done
cl_data_intact "during the roll"
observed cluster-roll "new (succeeded)"

# ---- 2. 1.5.0 → 1.5.16: the second host's smoke test fails ----
declare -A server_before
for i in 1 2 3; do
        server_before[$i]=$(cl "$i" systemctl show -P InvocationID codebolt.service)
done
cl_load_start 50
sleep 2
sb_log "cluster-fail-second: cluster start 1.5.16, whose smoke test fails on its second host"
roll 1.5.16
sleep 1
cl_load_stop
sb_log "cluster-fail-second: $CL_LOAD_REQUESTS requests, $CL_LOAD_FAILED failed; slot holders in turn:$HOLDERS_SEEN"
[ "$CL_LOAD_FAILED" = 0 ] || fail "$CL_LOAD_FAILED of $CL_LOAD_REQUESTS requests failed: $(cl_load_failures | head -n 10)"
[ "$MAX_HOLDERS" = 1 ] || fail "the slot had $MAX_HOLDERS holders at once"
[ "$(roll_field state)" = paused ] || fail "the roll is $(roll_field state), not paused"
roll_id=$(roll_field id)
[ "$(hooks_count roll-paused "$roll_id")" = 1 ] || fail "roll-paused was sent $(hooks_count roll-paused "$roll_id") times, not once"
[ "$(hooks_count roll-done "$roll_id")" = 0 ] || fail "a paused roll was said done"
[ -z "$(sem_holders)" ] || fail "the slot is still held: $(sem_holders)"

first=$(cl 1 codebolt-upgrade cluster status --json | jq -r '.roll.upgraded[0]')
second=$(cl 1 codebolt-upgrade cluster status --json | jq -r '.roll.failed[0]')
[ "$(cl 1 codebolt-upgrade cluster status --json | jq -r '.roll.upgraded | length')" = 1 ] || fail "not exactly one host upgraded"
third=
for i in 1 2 3; do
        [ "cb$i" = "$first" ] || [ "cb$i" = "$second" ] || third=$i
done
{ [ -n "$third" ] && [ -n "$first" ] && [ -n "$second" ]; } || fail "cannot tell the hosts apart: upgraded $first, failed $second"
first=${first#cb} second=${second#cb}
[ "$(cl_health_version "$first")" = 1.5.16 ] || fail "host $first (first) runs '$(cl_health_version "$first")', not 1.5.16"
[ "$(cl_health_version "$second")" = 1.5.0 ] || fail "host $second (failed) runs '$(cl_health_version "$second")', not 1.5.0"
[ "$(cl_health_version "$third")" = 1.5.0 ] || fail "host $third (refused) runs '$(cl_health_version "$third")', not 1.5.0"
for i in 1 2 3; do
        [ "$(cl_lb_field "$i" status)" = UP ] || fail "HAProxy sees host $i $(cl_lb_field "$i" status)"
done
[ "$(cl "$second" cat /var/lib/codebolt-upgrade/default/ledger.json | jq -r 'last | .result')" = rolled-back ] ||
        fail "host $second's ledger: $(cl "$second" cat /var/lib/codebolt-upgrade/default/ledger.json | jq -c last)"
grep -qF "a rolling cluster upgrade: the other hosts share the database" <<<"$(cl_journal "$second" "codebolt-rollback@1.5.16.service")" ||
        fail "host $second's rollback was not the rolling one"
entry=$(cl "$third" cat /var/lib/codebolt-upgrade/default/ledger.json | jq -c last)
[ "$(jq -r .result <<<"$entry")" = refused ] || fail "host $third (waiting) did not end refused: $entry"
out=$(cl_journal "$third" "codebolt-upgrade@1.5.16.service")
grep -qF "Refused by the cluster before the server was touched" <<<"$out" || fail "host $third's refusal: $out"
[ "$(cl "$third" systemctl show -P InvocationID codebolt.service)" = "${server_before[$third]}" ] ||
        fail "host $third's server was restarted"
cl "$third" test ! -e /opt/codebolt/releases/1.5.16 || fail "host $third kept the staged release 1.5.16"
cl_data_intact "during the failed roll"
observed cluster-fail-second "old (rolled-back)"

# ---- 3. the paused roll aborted: the upgraded host reverts, in turn through the slot ----
cl_load_start 50
sleep 1
sb_log "cluster-abort: cluster abort of roll $roll_id; host $first reverts its part"
cl 1 codebolt-upgrade cluster abort >/dev/null
MAX_HOLDERS=0
for _ in $(seq 900); do
        n=$(sem_holders | grep -c . || true)
        [ "$n" -le "$MAX_HOLDERS" ] || MAX_HOLDERS=$n
        [ "$(roll_field state)" = aborted ] &&
                [ "$(cl "$first" systemctl show -P ActiveState codebolt-rollback@1.5.16.service)" != activating ] && break
        sleep 0.2
done
sleep 1
cl_load_stop
sb_log "cluster-abort: $CL_LOAD_REQUESTS requests, $CL_LOAD_FAILED failed"
[ "$(roll_field state)" = aborted ] || fail "the roll is $(roll_field state), not aborted: $(cl 1 codebolt-upgrade cluster status)"
[ "$MAX_HOLDERS" = 1 ] || fail "the revert held $MAX_HOLDERS slots at once"
[ -z "$(sem_holders)" ] || fail "the slot is still held after the revert: $(sem_holders)"
[ "$CL_LOAD_FAILED" = 0 ] || fail "$CL_LOAD_FAILED of $CL_LOAD_REQUESTS requests failed during the revert: $(cl_load_failures | head -n 10)"
for i in 1 2 3; do
        [ "$(cl_health_version "$i")" = 1.5.0 ] || fail "host $i runs '$(cl_health_version "$i")' after the abort, not 1.5.0"
        [ "$(cl_lb_field "$i" status)" = UP ] || fail "HAProxy sees host $i $(cl_lb_field "$i" status)"
done
out=$(cl_journal "$first" codebolt-rollback@1.5.16.service)
grep -qF "Roll $roll_id is aborting: reverting this host's part, in turn through the slot." <<<"$out" ||
        fail "host $first's revert did not go through the slot: $out"
grep -qF "codebolt/cb$first is out of the load balancer" <<<"$out" || fail "host $first was not taken out of HAProxy for its revert"
[ "$(cl "$first" cat /var/lib/codebolt-upgrade/default/ledger.json | jq -r 'last | .result')" = rolled-back ] ||
        fail "host $first's ledger after the revert: $(cl "$first" cat /var/lib/codebolt-upgrade/default/ledger.json | jq -c last)"
[ "$(hooks_count host-reverted "$roll_id")" = 1 ] || fail "host-reverted was sent $(hooks_count host-reverted "$roll_id") times"
[ "$(hooks_count roll-aborted "$roll_id")" = 1 ] || fail "roll-aborted was sent $(hooks_count roll-aborted "$roll_id") times"
cl_data_intact "during the revert"
observed cluster-abort "old (rolled-back)"

sb_log "PASS"
