#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A breaking migration in a cluster (docs/architecture.md, "Clusters"): 1.6.0 rewrites history
# (20260501_rewrite_history, breaking; codebolt.rolling false), on 2 hosts behind HAProxy on 1.5.0 in one
# cluster world, each a member with its follower (codebolt-upgrade-cluster.service) running:
# 1. `cluster start 1.6.0` without --coordinated is refused (exit 2) naming the breaking migration and
#    the way out (--coordinated): no roll is written, no unit starts, both servers untouched on 1.5.0;
# 2. `cluster start 1.6.1 --coordinated`, whose smoke test fails: each follower starts its host's unit;
#    one host is the migrator (the only one to dump the shared database), the other a member; both
#    drain (HAProxy, then the app) and stop; the migrator migrates behind a snapshot while nobody else
#    runs, its smoke test fails and its rollback restores the snapshot; the member, which never
#    migrated, starts 1.5.0 again (rolled-back) only after the migrator's restore; both UP on 1.5.0, the
#    roll aborted, the seeded rows exactly as before (the restore undid the rewrite);
# 3. `cluster start 1.6.0 --coordinated` under 50 logged-in API calls a second through HAProxy: both
#    hosts on 1.6.0, the roll done, each ledger entry succeeded with the roll and its place, the breaking
#    migration applied once, by the migrator, while the member's server was stopped (it starts 1.6.0
#    after), the seeded rows kept through the rewrite. Requests fail while every server is stopped: only
#    inside that downtime window, from the first failed request to the last (printed, and in the
#    observation), none before the roll nor once both hosts are UP again.
# matrix[cluster-breaking]: preflight | a breaking migration on the path, cluster start without --coordinated | old (refused); exit 2 naming the migration, no roll written, both servers untouched
# matrix[cluster-coordinated-fail]: smoke | the migrator's smoke test fails after the breaking migration of a coordinated roll | old (restored); the snapshot restored on the migrator, the other host rolled back without migrating, both UP, the roll aborted, the rows intact
# matrix[cluster-coordinated]: migrations | none: 2 hosts 1.5.0 → 1.6.0 coordinated, a breaking migration, under load | new (succeeded); applied once by the migrator, the roll done, requests fail only inside the downtime window
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/cluster.sh"

MIGRATION=20260501_rewrite_history

cluster_up 1.5.0 2
cl_data_mark
cl_join_all breaking 3s
for i in 1 2; do
        cl "$i" systemctl start codebolt-upgrade-cluster.service
done

# roll_field FIELD: FIELD of the roll as `cluster status --json` shows it
roll_field() {
        cl 1 codebolt-upgrade cluster status --json | jq -r ".roll.$1"
}
# ledger_for I VERSION: host I's ledger entries for VERSION, as a JSON array
ledger_for() {
        SB_PID=${CL_SB_PID[$1]} cbu_ledger_for "$2"
}
# rollback_result I VERSION: once host I's rollback of VERSION ended and its ledger holds an entry for
# VERSION, the last one's result
rollback_result() {
        SB_PID=${CL_SB_PID[$1]} cbu_wait_rollback "$2" 0
}
# history_shape: 1 when history has 1.6.0's shape (its column kind), 0 otherwise
history_shape() {
        cl_db cbu_psql -c "SELECT count(*) FROM information_schema.columns
                WHERE table_name = 'history' AND column_name = 'kind'"
}
# wait_roll VERSION: until the roll is neither rolling nor aborting and no host's unit for VERSION
# (upgrade or rollback) works, for at most 5 minutes
wait_roll() {
        local v=$1 end=$((SECONDS + 300))
        while [ "$SECONDS" -lt "$end" ]; do
                case $(roll_field state 2>/dev/null || true) in
                rolling | aborting) ;;
                *) cl_units_busy "$v" || return 0 ;;
                esac
                sleep 0.2
        done
        fail "the roll to $v did not end within 5 minutes: $(cl 1 codebolt-upgrade cluster status)"
}
# migrator_of ROLL VERSION: the host whose unit for VERSION says it is ROLL's migrator (fails unless
# exactly one does, and the other says another host is)
migrator_of() {
        local roll=$1 v=$2 i out m='' others=0
        for i in 1 2; do
                out=$(cl_journal "$i" "codebolt-upgrade@$v.service")
                if grep -qF "This host is the migrator of roll $roll: its server applies the migrations." <<<"$out"; then
                        [ -z "$m" ] || fail "both hosts say they are the migrator of roll $roll"
                        m=$i
                fi
                if grep -qF "Another host is the migrator of roll $roll" <<<"$out"; then
                        others=$((others + 1))
                fi
        done
        [ -n "$m" ] || fail "no host says it is the migrator of roll $roll"
        [ "$others" = 1 ] || fail "$others hosts say another host is the migrator of roll $roll, not 1"
        echo "$m"
}
# drained_in_order I VERSION: host I's unit for VERSION took it out of HAProxy, then drained the app,
# then stopped the server
drained_in_order() {
        local out lb app stop
        out=$(cl_journal "$1" "codebolt-upgrade@$2.service")
        lb=$(grep -nF "codebolt/cb$1 is out of the load balancer" <<<"$out" | head -n 1 | cut -d: -f1 || true)
        app=$(grep -nF "No agent run in flight any more." <<<"$out" | head -n 1 | cut -d: -f1 || true)
        stop=$(grep -nF "codebolt.service stopped." <<<"$out" | head -n 1 | cut -d: -f1 || true)
        { [ -n "$lb" ] && [ -n "$app" ] && [ -n "$stop" ]; } ||
                fail "host $1 did not leave HAProxy ($lb), drain the app ($app) and stop ($stop): $out"
        { [ "$lb" -lt "$app" ] && [ "$app" -lt "$stop" ]; } ||
                fail "host $1 did not leave HAProxy ($lb), then drain the app ($app), then stop ($stop)"
}
# followed_once I ROLL VERSION: host I's follower started its unit for VERSION once, which took no slot
followed_once() {
        local n
        n=$(cl_journal "$1" codebolt-upgrade-cluster.service |
                grep -c "Roll $2 to $3: starting codebolt-upgrade@$3.service" || true)
        [ "$n" = 1 ] || fail "host $1's follower started codebolt-upgrade@$3.service $n times in roll $2, not once"
        # every member goes at once: nobody waits for the slot
        ! grep -qF "Took the cluster slot" <<<"$(cl_journal "$1" "codebolt-upgrade@$3.service")" ||
                fail "host $1 took the slot in coordinated roll $2"
}
# logged_at I CURSOR UNIT TEXT: when (µs since the epoch) UNIT of host I first logged TEXT after CURSOR;
# every host's journal stamps with the one clock of the machine
logged_at() {
        local t
        cl "$1" journalctl --sync
        t=$(cl "$1" journalctl --no-pager -o json --after-cursor "$2" -u "$3" |
                jq -r --arg t "$4" 'select(.MESSAGE | tostring | contains($t)) | .__REALTIME_TIMESTAMP' | head -n 1)
        [ -n "$t" ] || fail "host $1's $3 did not log '$4'"
        echo "$t"
}
# in_order WHAT T1 T2...: the times are in increasing order
in_order() {
        local what=$1 prev=0 t
        shift
        for t in "$@"; do
                [ "$t" -gt "$prev" ] || fail "$what: not in that order ($*)"
                prev=$t
        done
}
# migrator_dumped M ROLL VERSION: only host M's unit for VERSION dumped the shared database
migrator_dumped() {
        local i out
        for i in 1 2; do
                out=$(cl_journal "$i" "codebolt-upgrade@$3.service")
                if [ "$i" = "$1" ]; then
                        grep -qF "(database.dump " <<<"$out" || fail "the migrator (host $i) backed up no dump: $out"
                else
                        grep -qF "Cluster roll $2: the migrator backs up the shared database codebolt" <<<"$out" ||
                                fail "host $i, not the migrator, dumped the shared database: $out"
                fi
        done
}
declare -A server_before cursor

# ---- 1. a breaking migration, no --coordinated: refused ----
for i in 1 2; do
        server_before[$i]=$(cl "$i" systemctl show -P InvocationID codebolt.service)
done
roll_before=$(cl 1 codebolt-upgrade cluster status --json | jq -c .roll)
[ "$roll_before" = null ] || fail "the new cluster has a roll already: $roll_before"
sb_log "cluster-breaking: cluster start 1.6.0 (a breaking migration) without --coordinated"
rc=0
out=$(cl 1 codebolt-upgrade cluster start 1.6.0 2>&1) || rc=$?
sb_log "cluster start 1.6.0 exited $rc: $out"
[ "$rc" = 2 ] || fail "cluster start 1.6.0 without --coordinated exited $rc, not 2: $out"
grep -qF "$MIGRATION is breaking: use codebolt-upgrade cluster start --coordinated" <<<"$out" ||
        fail "the refusal does not name the breaking migration and --coordinated: $out"
# the followers had time to act on a roll, had one been written
sleep 2
[ "$(cl 1 codebolt-upgrade cluster status --json | jq -c .roll)" = "$roll_before" ] ||
        fail "a roll was written: $(cl 1 codebolt-upgrade cluster status)"
for i in 1 2; do
        [ "$(cl "$i" systemctl show -P InvocationID codebolt.service)" = "${server_before[$i]}" ] ||
                fail "host $i's server was restarted"
        [ "$(cl_health_version "$i")" = 1.5.0 ] || fail "host $i runs '$(cl_health_version "$i")', not 1.5.0"
        [ "$(cl "$i" systemctl show -P ActiveState codebolt-upgrade@1.6.0.service)" = inactive ] ||
                fail "codebolt-upgrade@1.6.0 ran on host $i"
        [ "$(ledger_for "$i" 1.6.0 | jq length)" = 0 ] || fail "host $i's ledger has 1.6.0: $(ledger_for "$i" 1.6.0)"
        cl "$i" test ! -e /opt/codebolt/releases/1.6.0 || fail "host $i staged 1.6.0"
done
cl_data_intact "by the refused cluster start"
# the rows compared as a breaking migration keeps them: the same on the old shape
cl_data_kept "by the refused cluster start (on the columns history keeps)"
observed cluster-breaking "old (refused)"

# ---- 2. coordinated, the migrator's smoke test fails: restored ----
for i in 1 2; do
        cursor[$i]=$(cl_cursor "$i")
done
sb_log "cluster-coordinated-fail: cluster start 1.6.1 --coordinated (its smoke test fails)"
cl 1 codebolt-upgrade cluster start 1.6.1 --coordinated >/dev/null || fail "cluster start 1.6.1 --coordinated failed"
roll_id=$(roll_field id)
[ "$(roll_field mode)" = coordinated ] || fail "the roll is not coordinated: $(cl 1 codebolt-upgrade cluster status --json | jq -c .roll)"
wait_roll 1.6.1
sb_log "cluster-coordinated-fail: the roll $roll_id ended $(roll_field state)"
migrator=$(migrator_of "$roll_id" 1.6.1)
member=$((3 - migrator))
sb_log "cluster-coordinated-fail: host $migrator (cb$migrator) is the migrator, host $member the member"
for i in 1 2; do
        followed_once "$i" "$roll_id" 1.6.1
        drained_in_order "$i" 1.6.1
done
out=$(cl_journal "$migrator" codebolt-upgrade@1.6.1.service)
# every member: the 2 of them
grep -qE "Coordinated roll $roll_id: every member has stopped( \(2\))?; this host, the migrator, migrates behind a snapshot\." <<<"$out" ||
        fail "the migrator (host $migrator) did not wait for every member to stop: $out"
out=$(cl_journal "$member" codebolt-upgrade@1.6.1.service)
grep -qF "Coordinated roll $roll_id: this host stopped; waiting for the migrator cb$migrator to migrate and pass its smoke test." <<<"$out" ||
        fail "the member (host $member) did not wait for the migrator cb$migrator: $out"

# the migrator applied the breaking migration, failed its smoke test and restored the snapshot
grep -qF "migrations: applying $MIGRATION" <<<"$(cl_journal_since "$migrator" "${cursor[$migrator]}" -u codebolt.service)" ||
        fail "the migrator (host $migrator) did not apply $MIGRATION"
result=$(rollback_result "$migrator" 1.6.1) || fail "the migrator's rollback did not end: $result"
[ "$result" = restored ] || fail "the migrator's rollback ended '$result', not restored: $(ledger_for "$migrator" 1.6.1 | jq -c last)"
[ "$(ledger_for "$migrator" 1.6.1 | jq -r 'last | .phase')" = smoke ] ||
        fail "the migrator's ledger does not say it failed in smoke: $(ledger_for "$migrator" 1.6.1 | jq -c last)"
grep -qF "breaking migration $MIGRATION was applied" <<<"$(cl_journal "$migrator" codebolt-rollback@1.6.1.service)" ||
        fail "the migrator's rollback does not say it restores because of the breaking migration"
# the member never migrated: it started its old release again
out=$(cl_journal_since "$member" "${cursor[$member]}" -u codebolt.service)
! grep -qF "migrations: applying" <<<"$out" || fail "the member (host $member) applied migrations: $out"
result=$(rollback_result "$member" 1.6.1) || fail "the member's rollback did not end: $result"
[ "$result" = rolled-back ] || fail "the member's rollback ended '$result', not rolled-back: $(ledger_for "$member" 1.6.1 | jq -c last)"
grep -qF "Stopped by the cluster:" <<<"$(cl_journal "$member" codebolt-upgrade@1.6.1.service)" ||
        fail "the member's upgrade does not say the cluster stopped it"
migrator_dumped "$migrator" "$roll_id" 1.6.1
# no server ran while the migrator migrated, and the member started 1.5.0 again only once the migrator
# had restored the database (and started 1.5.0 on it)
t1=$(logged_at "$member" "${cursor[$member]}" codebolt-upgrade@1.6.1.service "codebolt.service stopped.")
t2=$(logged_at "$migrator" "${cursor[$migrator]}" codebolt.service "migrations: applying $MIGRATION")
t3=$(logged_at "$migrator" "${cursor[$migrator]}" codebolt.service "codebolt-server 1.5.0 starting")
t4=$(logged_at "$member" "${cursor[$member]}" codebolt.service "codebolt-server 1.5.0 starting")
in_order "the member stopped, the migrator migrated and restored, then the member started" "$t1" "$t2" "$t3" "$t4"

[ "$(roll_field state)" = aborted ] || fail "the roll is $(roll_field state), not aborted: $(cl 1 codebolt-upgrade cluster status)"
for i in 1 2; do
        [ "$(cl_health_version "$i")" = 1.5.0 ] || fail "host $i runs '$(cl_health_version "$i")', not 1.5.0"
        cl_lb_wait "$i" status UP 30 || fail "HAProxy sees host $i $(cl_lb_field "$i" status)"
        [ "$(cl "$i" readlink -f /opt/codebolt/current)" = /opt/codebolt/releases/1.5.0 ] ||
                fail "host $i's /opt/codebolt/current points at $(cl "$i" readlink -f /opt/codebolt/current)"
        cl "$i" test ! -e /var/lib/codebolt-upgrade/default/current.json || fail "host $i has an upgrade in flight"
done
[ "$(history_shape)" = 0 ] || fail "history keeps 1.6.1's shape after the restore"
cl_data_intact "by the restored coordinated roll"
observed cluster-coordinated-fail "old (restored); the member rolled-back"

# ---- 3. coordinated under load: done, one downtime window ----
applied_before=$(cl_applied_count "$MIGRATION")
for i in 1 2; do
        cursor[$i]=$(cl_cursor "$i")
done
cl_load_start 50 "$CL_DIR/latency.tsv"
sleep 2
t_start=$(date +%s%3N)
sb_log "cluster-coordinated: cluster start 1.6.0 --coordinated under 50 requests a second"
cl 1 codebolt-upgrade cluster start 1.6.0 --coordinated >/dev/null || fail "cluster start 1.6.0 --coordinated failed"
roll_id=$(roll_field id)
[ "$(roll_field mode)" = coordinated ] || fail "the roll is not coordinated: $(cl 1 codebolt-upgrade cluster status --json | jq -c .roll)"
wait_roll 1.6.0
for i in 1 2; do
        cl_lb_wait "$i" status UP 30 || fail "HAProxy sees host $i $(cl_lb_field "$i" status) after the roll"
done
t_up=$(date +%s%3N)
roll_ms=$((t_up - t_start))
# every request from here on must succeed
sleep 3
cl_load_stop

[ "$(roll_field state)" = "done" ] || fail "the roll is $(roll_field state), not done: $(cl 1 codebolt-upgrade cluster status)"
migrator=$(migrator_of "$roll_id" 1.6.0)
member=$((3 - migrator))
places=
for i in 1 2; do
        followed_once "$i" "$roll_id" 1.6.0
        drained_in_order "$i" 1.6.0
        [ "$(cl_health_version "$i")" = 1.6.0 ] || fail "host $i runs '$(cl_health_version "$i")', not 1.6.0"
        [ "$(cl_lb_field "$i" status)" = UP ] || fail "HAProxy sees host $i $(cl_lb_field "$i" status)"
        entry=$(ledger_for "$i" 1.6.0 | jq -c last)
        [ "$(jq -r .result <<<"$entry")" = succeeded ] || fail "host $i's ledger: $entry"
        [ "$(jq -r .cluster_roll <<<"$entry")" = "$roll_id" ] || fail "host $i's ledger entry names no roll $roll_id: $entry"
        places="$places $(jq -r .cluster_place <<<"$entry")"
done
[ "$(tr ' ' '\n' <<<"$places" | sort -n | xargs)" = "1 2" ] || fail "the hosts' places in the roll are$places"
grep -qF "migrations: applying $MIGRATION" <<<"$(cl_journal_since "$migrator" "${cursor[$migrator]}" -u codebolt.service)" ||
        fail "the migrator (host $migrator) did not apply $MIGRATION"
out=$(cl_journal_since "$member" "${cursor[$member]}" -u codebolt.service)
! grep -qF "migrations: applying" <<<"$out" || fail "the member (host $member) applied migrations: $out"
grep -qF "Coordinated roll $roll_id: the migrator cb$migrator is done; starting 1.6.0 here." \
        <<<"$(cl_journal "$member" codebolt-upgrade@1.6.0.service)" || fail "the member did not wait for the migrator cb$migrator"
migrator_dumped "$migrator" "$roll_id" 1.6.0
# the member's server was stopped while the migrator migrated, and started 1.6.0 after it
t1=$(logged_at "$member" "${cursor[$member]}" codebolt-upgrade@1.6.0.service "codebolt.service stopped.")
t2=$(logged_at "$migrator" "${cursor[$migrator]}" codebolt.service "migrations: applying $MIGRATION")
t3=$(logged_at "$member" "${cursor[$member]}" codebolt.service "codebolt-server 1.6.0 starting")
in_order "the member stopped, the migrator migrated, then the member started 1.6.0" "$t1" "$t2" "$t3"
applied=$(($(cl_applied_count "$MIGRATION") - applied_before))
[ "$applied" = 1 ] || fail "$MIGRATION was applied $applied times in the roll, not once"
[ "$(history_shape)" = 1 ] || fail "history does not have 1.6.0's shape"
cl_data_kept "through the coordinated roll"

# the downtime window: from the first failed request to the last
window=$(cl_load_failure_window)
[ -n "$window" ] || fail "no request failed: a coordinated roll stops every server"
read -r first last <<<"$window"
window_ms=$((last - first))
window_s=$(printf '%d.%03d' $((window_ms / 1000)) $((window_ms % 1000)))
sb_log "cluster-coordinated: the roll took $((roll_ms / 1000)).$((roll_ms % 1000 / 100)) s; downtime window" \
        "$window_s s: $CL_LOAD_FAILED of $CL_LOAD_REQUESTS requests failed"
[ "$window_ms" -gt 0 ] || fail "the downtime window is $window_s s"
[ "$first" -ge "$t_start" ] || fail "a request failed $((t_start - first)) ms before the roll started: $(cl_load_failures | head -n 3)"
[ "$last" -le "$t_up" ] || fail "a request failed $((last - t_up)) ms after both hosts were UP again: $(cl_load_failures | tail -n 3)"
# each request started once both hosts were UP again answered 200
after=$(awk -F'\t' -v t="$t_up" '$1 >= t' "$CL_DIR/latency.tsv")
n_after=$(grep -c . <<<"$after" || true)
[ "$n_after" -ge 50 ] || fail "only $n_after requests were sent once both hosts were UP again"
failed_after=$(awk -F'\t' '$3 != 200' <<<"$after")
[ -z "$failed_after" ] || fail "requests failed once both hosts were UP again: $(head -n 5 <<<"$failed_after")"
observed cluster-coordinated "new (succeeded); downtime window $window_s s, $CL_LOAD_FAILED of $CL_LOAD_REQUESTS requests failed"

sb_log "PASS"
