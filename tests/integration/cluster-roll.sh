#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Rolling upgrades of 3 Codebolt hosts behind HAProxy, coordinated through etcd, under 50 logged-in API
# calls a second, in one cluster world:
# 1. 1.4.0 → 1.5.0: `cluster start 1.5.0`, then every host's codebolt-upgrade@1.5.0 started at the same
#    moment. They stage side by side and take the slot one at a time (sampled: never two holders), each
#    leaves HAProxy before its drain and comes back UP; the first migrates, the others find the
#    migrations applied; no request fails; every host runs 1.5.0 and the roll is done; each ledger entry
#    names the roll and the host's place in it.
# 2. 1.5.0 → 1.5.16, whose smoke test fails on the second host that starts it: the first host is
#    upgraded, the second rolls back (minor: the database is shared) and is UP in HAProxy on 1.5.0
#    again, the roll is paused, and the third host, waiting for the slot, ends refused with its server
#    untouched. No request fails.
# matrix[cluster-roll]: slot | none: 3 hosts roll 1.4.0 → 1.5.0 | new (succeeded); one slot holder at a time, 0 failed requests, the roll done
# matrix[cluster-fail-second]: smoke | the smoke test fails on the second host of the roll | old (rolled-back); the first stays new, the third refused and untouched, the roll paused, 0 failed requests
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/cluster.sh"

cluster_up 1.4.0 3
# the seeded rows; each smoke test adds a history row of its own after them
history_max=$(cl_psql -c 'SELECT max(id) FROM history')
digests_before=$(cl_db cbu_table_digests "$history_max")
# the_data_is_intact WHEN: the seeded rows as they were, and no history row but the smoke tests'
the_data_is_intact() {
        [ "$(cl_db cbu_table_digests "$history_max")" = "$digests_before" ] || fail "the seeded rows changed $1"
        [ -z "$(cl_db cbu_extra_history "$history_max")" ] || fail "rows were added $1: $(cl_db cbu_extra_history "$history_max")"
}

# each host in cluster "test": the address its server answers on, etcd, its name in HAProxy, a short soak
cl_join_cluster test 3s

# sem_holders: the slot's holders now, one per line
sem_holders() {
        cl_net etcdctl --endpoints http://127.0.0.3:2379 get /codebolt-upgrade/test/sem --print-value-only |
                jq -r '.holders[]?'
}

# roll VERSION: start VERSION's unit on every host at once, sample the slot until all three are over;
# sets MAX_HOLDERS (the most holders seen at once) and HOLDERS_SEEN (each holder, in the order seen)
roll() {
        local v=$1 i n h holders active
        MAX_HOLDERS=0 HOLDERS_SEEN=
        for i in 1 2 3; do
                cl "$i" systemctl start --no-block "codebolt-upgrade@$v.service"
        done
        for _ in $(seq 1500); do
                holders=$(sem_holders 2>/dev/null || true)
                n=$(grep -c . <<<"$holders" || true)
                [ "$n" -le "$MAX_HOLDERS" ] || MAX_HOLDERS=$n
                for h in $holders; do
                        [[ " $HOLDERS_SEEN " == *" $h "* ]] || HOLDERS_SEEN="$HOLDERS_SEEN $h"
                done
                active=0
                for i in 1 2 3; do
                        case $(cl "$i" systemctl is-active "codebolt-upgrade@$v.service" "codebolt-rollback@$v.service" || true) in
                        *activating* | *reloading*) active=1 ;;
                        esac
                done
                [ "$active" = 0 ] && return 0
                sleep 0.2
        done
        fail "the roll to $v did not end within 5 minutes"
}

# roll_field FIELD: FIELD of the roll as `cluster status --json` shows it
roll_field() {
        cl 1 codebolt-upgrade cluster status --json | jq -r ".roll.$1"
}

# ---- 1. 1.4.0 → 1.5.0 on every host ----
cl 1 codebolt-upgrade cluster start 1.5.0 >/dev/null
roll_id=$(roll_field id)
cl_load_start 50
sleep 2
t0=$(date +%s%N)
sb_log "cluster-roll: roll $roll_id, codebolt-upgrade@1.5.0 started on 3 hosts at once"
roll 1.5.0
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
the_data_is_intact "during the roll"

# ---- 2. 1.5.0 → 1.5.16: the second host's smoke test fails ----
declare -A server_before
for i in 1 2 3; do
        server_before[$i]=$(cl "$i" systemctl show -P InvocationID codebolt.service)
done
cl 1 codebolt-upgrade cluster start 1.5.16 >/dev/null
roll_id=$(roll_field id)
cl_load_start 50
sleep 2
sb_log "cluster-fail-second: roll $roll_id to 1.5.16, whose smoke test fails on its second host"
roll 1.5.16
sleep 1
cl_load_stop
sb_log "cluster-fail-second: $CL_LOAD_REQUESTS requests, $CL_LOAD_FAILED failed; slot holders in turn:$HOLDERS_SEEN"
[ "$CL_LOAD_FAILED" = 0 ] || fail "$CL_LOAD_FAILED of $CL_LOAD_REQUESTS requests failed: $(cl_load_failures | head -n 10)"
[ "$MAX_HOLDERS" = 1 ] || fail "the slot had $MAX_HOLDERS holders at once"
[ "$(roll_field state)" = paused ] || fail "the roll is $(roll_field state), not paused"
[ -z "$(sem_holders)" ] || fail "the slot is still held: $(sem_holders)"

first=$(cl 1 codebolt-upgrade cluster status --json | jq -r '.roll.upgraded[0]')
second=$(cl 1 codebolt-upgrade cluster status --json | jq -r '.roll.failed[0]')
[ "$(cl 1 codebolt-upgrade cluster status --json | jq -r '.roll.upgraded | length')" = 1 ] || fail "not exactly one host upgraded"
third=
for i in 1 2 3; do
        [ "cb$i" = "$first" ] || [ "cb$i" = "$second" ] || third=$i
done
if [ -z "$third" ] || [ -z "$first" ] || [ -z "$second" ]; then
        fail "cannot tell the hosts apart: upgraded $first, failed $second"
fi
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
the_data_is_intact "during the failed roll"

sb_log "PASS"
