#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cli-cluster.sh CLI FOLLOWER
#
# `codebolt-upgrade cluster …` against a private etcd (127.0.0.1, free ports, a scratch data dir) and a
# throwaway CODEBOLT_UPGRADE_ROOT whose [Cluster] points at it: join, status (text and --json, read with
# jq, and --follow --json seeing a pause), start --coordinated, the refusals (a second roll, resume while
# rolling), pause, resume, abort, unlock of a crashed holder, leave; a host without [Cluster] is refused
# with exit 2. Then the follower (cluster-follow, FOLLOWER) against the same etcd: it joins, says there is
# no roll, tries to start codebolt-upgrade@1.5.0.service once a roll to it is rolling (on a system bus
# that does not exist: never a real systemd), and ends with 0 on SIGTERM; on a host in no cluster it
# says so and exits 0.
set -u
export LC_ALL=C
cli=$1 follower=$2
root=$(mktemp -d)
etcd_pid=
bg_pid=
# only the processes this test started, by their pids
trap '[ -n "$bg_pid" ] && kill "$bg_pid" 2>/dev/null && wait "$bg_pid"
[ -n "$etcd_pid" ] && kill "$etcd_pid" 2>/dev/null && wait "$etcd_pid"; rm -rf "$root"' EXIT
failed=0
fail() {
        echo "FAIL: $*"
        failed=1
}

for bin in /usr/bin/etcd /usr/bin/etcdctl; do
        [ -x "$bin" ] || {
                echo "FAIL: $bin is missing (tools/deps.sh installs it)"
                exit 1
        }
done

# etcd on a free pair of ports: a port taken meanwhile makes it exit, and another pair is tried
url=
for _ in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 30000))
        rm -rf "$root/etcd"
        /usr/bin/etcd --name t --data-dir "$root/etcd" \
                --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
                --listen-peer-urls "http://127.0.0.1:$((port + 1))" \
                --initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" \
                --initial-cluster "t=http://127.0.0.1:$((port + 1))" >"$root/etcd.log" 2>&1 &
        etcd_pid=$!
        for _ in $(seq 100); do
                kill -0 "$etcd_pid" 2>/dev/null || break
                if curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; then
                        url=http://127.0.0.1:$port
                        break 2
                fi
                sleep 0.2
        done
        kill "$etcd_pid" 2>/dev/null
        wait "$etcd_pid" 2>/dev/null
        etcd_pid=
done
if [ -z "$url" ]; then
        echo "FAIL: etcd did not start: $(tail -5 "$root/etcd.log")"
        exit 1
fi
etcdctl() { ETCDCTL_API=3 /usr/bin/etcdctl --endpoints "$url" "$@" >/dev/null; }

# a host of cluster "test" running 1.4.0
host=$root/host
mkdir -p "$host/etc/codebolt-upgrade" "$host/opt/codebolt/releases/1.4.0"
ln -s releases/1.4.0 "$host/opt/codebolt/current"
printf '[Server]\nReleaseMetadata=/metadata.json\n\n[Cluster]\nName=test\nEtcd=%s\nHostId=h1\n\n[LoadBalancer]\nServer=web-1\n' \
        "$url" >"$host/etc/codebolt-upgrade/upgrade.conf"
# 1.5.0 may roll; 1.6.0 does not declare codebolt.rolling; 2.0.0 is a major
cat >"$host/metadata.json" <<'EOF'
{
  "name": "@codebolt/server",
  "dist-tags": { "latest": "2.0.0" },
  "versions": {
    "1.4.0": { "version": "1.4.0" },
    "1.5.0": { "version": "1.5.0", "codebolt": { "rolling": true, "upgradeFrom": ">=1.4.0",
               "migrations": [ { "id": "0042_add_index", "breaking": false } ] } },
    "1.6.0": { "version": "1.6.0", "codebolt": { "upgradeFrom": ">=1.4.0" } },
    "2.0.0": { "version": "2.0.0", "codebolt": { "rolling": true, "upgradeFrom": ">=1.4.0" } }
  }
}
EOF
export CODEBOLT_UPGRADE_ROOT=$host CODEBOLT_UPGRADE_LOG=stderr
unset CODEBOLT_DEPLOYMENT

# run WANT-EXIT PATTERN ARGS…: the command exits WANT-EXIT and its output (both streams) matches PATTERN
out=
run() {
        local want=$1 pattern=$2 code
        shift 2
        out=$("$cli" "$@" 2>&1)
        code=$?
        [ "$code" = "$want" ] || fail "codebolt-upgrade $* exited $code, not $want: $out"
        # shellcheck disable=SC2254
        case "$out" in
        $pattern) ;;
        *) fail "codebolt-upgrade $*: the output does not match '$pattern': $out" ;;
        esac
}

run 0 "*Roll:*none*Members:*none*" cluster status
run 2 "*no host has joined cluster test*" cluster start 1.5.0 --coordinated
run 0 "*joined cluster test as h1 (server web-1, version 1.4.0)*" cluster join
run 0 "*h1 (this)*1.4.0*none*" cluster status
run 2 "*no roll*" cluster pause
# the rolling rule, from the plan: which rule refuses, and what to do
run 2 "*Refused:*--coordinated*" cluster start 2.0.0
run 2 "*Refused:*--coordinated*" cluster start 1.6.0
run 0 "*1.4.0 → 1.5.0 (rolling) started*" cluster start 1.5.0
run 0 "*is now aborted*" cluster abort
run 0 "*1.4.0 → 1.5.0 (coordinated) started in cluster test*systemctl start codebolt-upgrade@1.5.0*" \
        cluster start 1.5.0 --coordinated
run 2 "*Refused: the roll to 1.5.0*cluster abort*" cluster start 1.6.0 --coordinated
run 0 "*Roll:*1.4.0 → 1.5.0, coordinated, rolling (started *by h1)*" cluster status

json=$("$cli" cluster status --json 2>&1) || fail "status --json failed: $json"
[ "$(jq -r '.roll.to + " " + .roll.state + " " + .roll.mode + " " + .roll.by' <<<"$json")" = "1.5.0 rolling coordinated h1" ] ||
        fail "status --json: the roll is wrong: $json"
[ "$(jq -r '.hosts | map(.id + ":" + .version + ":" + (.member | tostring) + ":" + (.slot | tostring) + ":" + .heartbeat) | join(",")' <<<"$json")" = "h1:1.4.0:true:false:none" ] ||
        fail "status --json: the hosts are wrong: $json"
[ "$(jq -r '.cluster + " " + .host + " " + (.sem | tostring)' <<<"$json")" = "test h1 null" ] ||
        fail "status --json: cluster, host or sem wrong: $json"

# wait_lines FILE N: FILE has N lines within 20 s
wait_lines() {
        for _ in $(seq 200); do
                [ "$(wc -l <"$1")" -ge "$2" ] && return 0
                sleep 0.1
        done
        return 1
}

# status --follow --json: one compact object now, one more at each change; SIGTERM ends it with 0
"$cli" cluster status --follow --json >"$root/follow.out" 2>"$root/follow.err" &
bg_pid=$!
wait_lines "$root/follow.out" 1 || fail "status --follow --json printed nothing: $(cat "$root/follow.err")"
[ "$(sed -n 1p "$root/follow.out" | jq -r .roll.state)" = rolling ] ||
        fail "status --follow --json: the first line is not the rolling roll: $(cat "$root/follow.out")"
run 0 "*is now paused*" cluster pause
wait_lines "$root/follow.out" 2 || fail "status --follow --json printed no line after the pause: $(cat "$root/follow.err")"
[ "$(sed -n 2p "$root/follow.out" | jq -r '.roll.state + " " + .roll.to')" = "paused 1.5.0" ] ||
        fail "status --follow --json: the second line is not the paused roll: $(cat "$root/follow.out")"
kill "$bg_pid"
wait "$bg_pid"
code=$?
bg_pid=
[ "$code" = 0 ] || fail "status --follow --json exited $code on SIGTERM, not 0: $(cat "$root/follow.err")"

run 0 "*was already paused*" cluster pause
run 0 "*is now rolling*" cluster resume
# a coordinated roll's members follow its migrator: no abort while it rolls, but once paused
run 2 "*Refused: the coordinated roll to 1.5.0 is rolling*stop the migrator's codebolt-upgrade@1.5.0.service*" cluster abort
run 0 "*is now paused*" cluster pause
run 0 "*is now aborted*" cluster abort
run 2 "*Refused:*aborted*" cluster resume

# a host that crashed holding the slot, with a heartbeat
etcdctl put /codebolt-upgrade/test/sem '{"total_slots":1,"holders":["h2"]}'
etcdctl put /codebolt-upgrade/test/hosts/h2 \
        '{"version":"1.5.0","phase":"switch","unit":"codebolt-upgrade@1.5.0.service","updated":"2026-01-01T00:00:00Z"}'
run 0 "*Slots:*1 of 1 held: h2*h2 (no member)*1.5.0*switch*yes*stale*" cluster status
run 0 "*Released the slot of h2*" cluster unlock h2
run 0 "*h2 held no slot*" cluster unlock h2
run 2 "*not a host id*" cluster unlock ../x
run 0 "*Slots:*0 of 1 held*" cluster status

run 0 "*h1 left cluster test*" cluster leave
run 0 "*h1 was no member*" cluster leave
run 2 "*Usage*cluster*" cluster
run 2 "*usage*cluster*" cluster frobnicate

# a host in no cluster
lone=$root/lone
mkdir -p "$lone/etc/codebolt-upgrade"
CODEBOLT_UPGRADE_ROOT=$lone run 2 "*in no cluster*" cluster status
CODEBOLT_UPGRADE_ROOT=$lone run 2 "*in no cluster*" cluster join

# the follower: joins, follows, tries to start the upgrade unit of a rolling roll (no system bus here)
"$cli" cluster abort >/dev/null 2>&1
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$root/no-bus "$follower" >"$root/follower.log" 2>&1 &
bg_pid=$!
# expect_log PATTERN: the follower's log matches the grep -E PATTERN within 20 s
expect_log() {
        for _ in $(seq 200); do
                grep -qE "$1" "$root/follower.log" && return 0
                sleep 0.1
        done
        fail "the follower's log does not say '$1': $(cat "$root/follower.log")"
}
expect_log 'Member h1 of cluster test: .* \(server web-1\) runs 1\.4\.0'
expect_log 'roll [0-9a-f]+: the roll to 1\.5\.0 was aborted'
run 0 "*h1 (this)*1.4.0*" cluster status
run 0 "*1.4.0 → 1.5.0 (rolling) started*" cluster start 1.5.0
expect_log 'Roll [0-9a-f]+ to 1\.5\.0: starting codebolt-upgrade@1\.5\.0\.service \(this host runs 1\.4\.0\)'
expect_log 'Failed to start codebolt-upgrade@1\.5\.0\.service: .*system bus'
run 0 "*is now paused*" cluster pause
expect_log 'the roll to 1\.5\.0 is paused'
kill "$bg_pid"
wait "$bg_pid"
code=$?
bg_pid=
[ "$code" = 0 ] || fail "the follower exited $code on SIGTERM, not 0: $(cat "$root/follower.log")"
out=$(CODEBOLT_UPGRADE_ROOT=$lone "$follower" 2>&1)
code=$?
[ "$code" = 0 ] || fail "the follower on a host in no cluster exited $code, not 0: $out"
case "$out" in
*"Not a cluster member ([Cluster] is not set in $lone/etc/codebolt-upgrade/upgrade.conf): nothing to follow"*) ;;
*) fail "the follower on a host in no cluster does not say so: $out" ;;
esac

# etcd gone: a failure, exit 1, naming the endpoint
kill "$etcd_pid" && wait "$etcd_pid" 2>/dev/null
etcd_pid=
run 1 "*$url*" cluster status

[ "$failed" = 0 ] && echo "ok: cluster join, status (--follow), start, pause, resume, abort, unlock, leave; the follower"
exit "$failed"
