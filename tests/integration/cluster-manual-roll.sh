#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The guide's rolling upgrade done by hand on a cluster of 3 Codebolt hosts behind HAProxy, 1.4.0 → 1.5.0,
# under 50 logged-in API calls a second through HAProxy: per host, `set server codebolt/cbN state drain`
# on the admin socket, wait until its scur is 0, stop, install the new release as the operator does,
# start, `state ready`, wait until HAProxy sees it UP. No request fails, every host runs 1.5.0, each
# migration was applied once in the shared database (also when the three 1.4.0 servers first started
# at the same moment on the empty database), and the seeded rows are intact. The anchor of the cluster
# world (lib/cluster.sh) and of the stand-in's cluster features.
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/cluster.sh"

cluster_up 1.4.0 3

# the three servers started at once on the empty database: one of them applied 1.4.0's migrations
for m in 20260101_initial 20260201_memory_kind; do
        n=$(cl_applied_count "$m")
        [ "$n" = 1 ] || fail "migration $m of 1.4.0 was applied by $n servers, not 1"
done
digests_before=$(cl_db cbu_table_digests)

for i in 1 2 3; do
        [ "$(cl "$i" hostname)" = "cb$i" ] || fail "host $i is named '$(cl "$i" hostname)', not cb$i (HAProxy's name for it)"
done

# a token from one server is good on every other (through HAProxy, round robin)
token=$(cl_net curl -fsS --max-time 5 -H 'Content-Type: application/json' \
        -d '{"username":"smoke","password":"smoke-secret"}' http://127.0.0.10:8080/api/auth/login | jq -r .token)
for i in 1 2 3; do
        cl_net curl -fsS -o /dev/null --max-time 5 -H "Authorization: Bearer $token" \
                "http://$(cl_addr "$i"):$CL_PORT/api/projects" || fail "host $i refuses a token another host issued"
done

cl_load_start 50
sleep 2
roll_start=$(date +%s%N)
for i in 1 2 3; do
        sb_log "host $i: drain, stop, install 1.5.0, start, ready"
        cl_haproxy "set server $CL_BACKEND/cb$i state drain" >/dev/null
        cl_lb_wait "$i" scur 0 30 || fail "host $i still has $(cl_lb_field "$i" scur) sessions after 30 s of drain"
        cl "$i" systemctl stop codebolt.service
        cl_install_release "$i" 1.5.0
        cl "$i" systemctl start codebolt.service
        cl_haproxy "set server $CL_BACKEND/cb$i state ready" >/dev/null
        cl_lb_wait "$i" status UP 60 || fail "HAProxy does not see host $i UP again: $(cl_lb_field "$i" status)"
done
roll_ms=$((($(date +%s%N) - roll_start) / 1000000))
sleep 1
cl_load_stop
requests=$CL_LOAD_REQUESTS failed=$CL_LOAD_FAILED
sb_log "the roll took $((roll_ms / 1000)).$((roll_ms % 1000 / 100)) s; $requests requests through HAProxy, $failed failed" \
        "(world up in $((CL_UP_MS / 1000)).$((CL_UP_MS % 1000 / 100)) s)"

[ "$failed" = 0 ] || fail "$failed of $requests requests failed during the roll: $(cl_load_failures | head -n 10)"
# 50 a second from 2 s before the roll to 1 s after it: most of them were sent
[ "$requests" -ge $(((roll_ms / 1000 + 3) * 50 * 8 / 10)) ] ||
        fail "only $requests requests in $((roll_ms / 1000 + 3)) s at 50 a second"

for i in 1 2 3; do
        [ "$(cl_health_version "$i")" = 1.5.0 ] || fail "host $i reports '$(cl_health_version "$i")', not 1.5.0"
        [ "$(cl_lb_field "$i" status)" = UP ] || fail "HAProxy sees host $i $(cl_lb_field "$i" status)"
done

# each migration of 1.5.0 applied once, by the first host; the others found them applied
for m in 20260315_add_foo_index 20260320_partition_event_log; do
        n=$(cl_applied_count "$m")
        [ "$n" = 1 ] || fail "migration $m of 1.5.0 was applied by $n servers, not 1"
        cl_journal 1 codebolt.service | grep -qF "migrations: applying $m" || fail "host 1 did not apply $m"
done
for i in 2 3; do
        out=$(cl_journal "$i" codebolt.service | sed -n '/codebolt-server 1.5.0 starting/,$p')
        grep -q 'migrations: 0 applied, 0 failed' <<<"$out" || fail "host $i did not start 1.5.0 on the migrated database: $out"
done
for i in 1 2 3; do
        ! cl_journal "$i" codebolt.service | grep -F 'migrations: failed' ||
                fail "a server of host $i failed its migrations (two instances raced?)"
done
applied=$(cl_psql -c 'SELECT string_agg(id, $$ $$ ORDER BY id) FROM schema_migrations')
[ "$applied" = "20260101_initial 20260201_memory_kind 20260315_add_foo_index 20260320_partition_event_log" ] ||
        fail "schema_migrations holds '$applied'"

# the seeded rows are intact (the load only read)
[ "$(cl_db cbu_table_digests)" = "$digests_before" ] || fail "the seeded rows changed during the roll"

sb_log "PASS"
