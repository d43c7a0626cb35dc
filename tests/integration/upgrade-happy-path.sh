#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An operator upgrades a seeded Codebolt 1.4.0 to 1.5.0 with `systemctl start codebolt-upgrade@1.5.0`
# while two agent runs are in flight; then starts the same unit again.
# matrix[happy-path]: none (two agent runs in flight) | none | new
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

# agent runs long enough to be still in flight when the upgrade reaches the drain: they start once the
# backup has announced the stop, AnnounceLead=10s before the drain (however long the phases before it
# take on a loaded machine)
CBU_RUN_SECONDS=20

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

[ "$(cbu_health_version)" = 1.4.0 ] || fail "the deployment does not run 1.4.0 before the upgrade"
counts_before=$(cbu_row_counts)
history_before=$(cbu_psql -c 'SELECT string_agg(id::text, $$,$$ ORDER BY id) FROM history')
memory_before=$(cbu_psql -c 'SELECT string_agg(id::text, $$,$$ ORDER BY id) FROM memory')

# a webhook receiver, and [Notify] pointing at it with a bearer token from the credentials directory
sb systemd-run --quiet --unit=codebolt-test-webhook --property=Type=exec \
        /usr/bin/node "$CBU_FIXTURES/webhook/receiver.js" --port 8089 --out /var/tmp/webhook.jsonl
cbu_wait_http http://127.0.0.1:8089/ 30 || fail "the webhook receiver did not answer"
sb sh -c 'printf "[Notify]\nURL=http://127.0.0.1:8089/hook\nAnnounceLead=10s\n" >>/etc/codebolt-upgrade/upgrade.conf'
sb sh -c 'umask 077; printf hook-secret >/etc/codebolt-upgrade/credentials/webhook-token'

token=$(cbu_token)

# watch what `systemctl status` shows while the upgrade runs
: >"$SB_DIR/status-texts"
(
        while :; do
                sb systemctl show -P StatusText codebolt-upgrade@1.5.0.service 2>/dev/null || true
                sleep 0.2
        done >>"$SB_DIR/status-texts"
) &
watcher=$!

sb_log "systemctl start codebolt-upgrade@1.5.0"
sb systemctl start codebolt-upgrade@1.5.0.service &
upgrade=$!
# two agent runs, started once the backup announced the stop: in flight when the drain begins
seen_announce=
while kill -0 "$upgrade" 2>/dev/null; do
        if grep -qF 'backup: announced;' <<<"$(sb systemctl show -P StatusText codebolt-upgrade@1.5.0.service)"; then
                seen_announce=1
                break
        fi
        sleep 0.2
done
[ -n "$seen_announce" ] || fail "the upgrade ended before the backup announced the stop"
run1=$(cbu_api "$token" POST /api/agents/run '{"project":1,"agent":"long-task"}' | jq -r .runId)
run2=$(cbu_api "$token" POST /api/agents/run '{"project":2,"agent":"long-task"}' | jq -r .runId)
for r in "$run1" "$run2"; do
        { [ -n "$r" ] && [ "$r" != null ]; } || fail "could not start an agent run before the drain"
done
rc=0
wait "$upgrade" || rc=$?
kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null || true
[ "$rc" = 0 ] || fail "systemctl start codebolt-upgrade@1.5.0 exited $rc"

# the server answers as 1.5.0
[ "$(cbu_health_version)" = 1.5.0 ] || fail "/health does not report 1.5.0 after the upgrade"

# the runs in flight when the drain began finished before the server stopped
token=$(cbu_token)
for r in "$run1" "$run2"; do
        st=$(cbu_api "$token" GET "/api/runs/$r" | jq -r .status)
        [ "$st" = succeeded ] || fail "agent run $r started before the drain ended '$st', not succeeded"
done
sb_journal_has codebolt-upgrade@1.5.0.service 'drain: waiting for 2 agent runs in flight' ||
        fail "drain did not wait for the two agent runs in flight"
sb_journal_has codebolt.service 'shutting down: waiting for 0 in-flight runs' ||
        fail "the server was stopped with agent runs still in flight"

# both migrations are in the ledger, and the ledger says succeeded
ledger=$(sb cat /var/lib/codebolt-upgrade/default/ledger.json)
echo "$ledger" | jq -e 'last | .result == "succeeded" and .from == "1.4.0" and .to == "1.5.0"' >/dev/null ||
        fail "the ledger's last entry is not a succeeded 1.4.0 → 1.5.0 upgrade: $(echo "$ledger" | jq -c last)"
for m in 20260315_add_foo_index 20260320_partition_event_log; do
        echo "$ledger" | jq -e --arg m "$m" 'last | [.migrations[].id] | index($m) != null' >/dev/null ||
                fail "migration $m is not in the ledger"
done
sb test ! -e /var/lib/codebolt-upgrade/default/current.json || fail "current.json remains after a finished upgrade"
cbu_observe happy-path 1.4.0 1.5.0

# the pin
[ "$(sb cat /var/lib/codebolt-upgrade/default/pin)" = 1.5.0 ] || fail "the pin does not say 1.5.0"
[ "$(sb readlink /opt/codebolt/current)" = /opt/codebolt/releases/1.5.0 ] ||
        [ "$(sb readlink -f /opt/codebolt/current)" = /opt/codebolt/releases/1.5.0 ] || fail "/opt/codebolt/current does not point at 1.5.0"
sb test -x /opt/codebolt/releases/1.4.0/bin/codebolt-server || fail "the previous release was not kept installed"

# the backup: a verified dump, every store, the config, the master-key identifier, a manifest
backup=$(echo "$ledger" | jq -r 'last | .backup')
sb test -d "$backup" || fail "the backup directory '$backup' named in the ledger does not exist"
sb test -f "$backup/manifest.json" || fail "no manifest in $backup"
sb pg_restore --list "$backup/database.dump" >/dev/null || fail "pg_restore --list rejects $backup/database.dump"
for s in shadow-git/alpha/.git vectordb/index.bin kg/graph.json capabilities/installed.json; do
        sb test -e "$backup/stores/var/lib/codebolt/$s" || fail "the backup lacks the store file $s"
done
sb test -f "$backup/config/etc/codebolt/codebolt-server.yaml" || fail "the backup lacks the server config"
[ "$(sb cat "$backup/config/etc/codebolt/master-key-id")" = mk-2026-0001 ] || fail "the backup lacks the master-key identifier"
# every checksum of the list holds, as an operator checks it, and the manifest holds the list's own
# shellcheck disable=SC2016 # the script runs in the sandbox's shell, which expands it
sb sh -c 'cd "$1" && [ "$(sha256sum <files.sha256 | cut -d" " -f1)" = "$(jq -r .files_list.sha256 manifest.json)" ] && sha256sum --check --quiet --strict files.sha256' sh "$backup" ||
        fail "a file of the backup does not match its checksum in files.sha256, or the list its manifest"
[ "$(sb jq -r '.files_list.count' "$backup/manifest.json")" -gt 5 ] || fail "the manifest lists too few files"
# shellcheck disable=SC2016 # the script runs in the sandbox's shell, which expands it
[ "$(sb sh -c 'wc -l <"$1"' sh "$backup/files.sha256")" = "$(sb jq -r '.files_list.count' "$backup/manifest.json")" ] ||
        fail "files.sha256 does not hold as many lines as the manifest says"
sb jq -e '.tables["public.history"] > 0 and .tables["public.memory"] > 0' "$backup/manifest.json" >/dev/null ||
        fail "the manifest has no row counts for history and memory"

# no seeded row is missing
for t in history memory; do
        ids=$( [ $t = history ] && echo "$history_before" || echo "$memory_before")
        kept=$(cbu_psql -c "SELECT count(*) FROM $t WHERE id = ANY(string_to_array('$ids', ',')::bigint[])")
        [ "$kept" = "$(echo "$ids" | tr ',' '\n' | grep -c .)" ] || fail "$t rows seeded before the upgrade are missing after it"
done
for t in users projects; do
        [ "$(echo "$counts_before" | grep "^$t:")" = "$(cbu_row_counts | grep "^$t:")" ] || fail "$t rows changed"
done

# systemctl status showed each migration as it was applied
for m in 20260315_add_foo_index 20260320_partition_event_log; do
        grep -q "$m" "$SB_DIR/status-texts" || fail "StatusText never showed migration $m (seen: $(sort -u "$SB_DIR/status-texts" | tr '\n' '|'))"
        sb_journal_has codebolt-upgrade@1.5.0.service "applying $m" ||
                fail "the upgrade's journal does not report migration $m"
done

# the journal tells the story in catalog events: started, each phase, succeeded; -x explains
events=$(sb journalctl -b --no-pager -o cat -u codebolt-upgrade@1.5.0.service MESSAGE_ID=3b979d13a62a452abf0531a81c3d28ad)
[ "$(grep -c 'completed' <<<"$events")" = 9 ] || fail "not one 'phase completed' event per phase: $events"
[ "$(sb journalctl -b --no-pager -o cat MESSAGE_ID=3f870648631541ad82534571125ff8b4 | grep -c 'from 1.4.0 to 1.5.0 started')" = 1 ] ||
        fail "no 'upgrade started' event"
explained=$(sb journalctl -b --no-pager -x -u codebolt-upgrade@1.5.0.service)
grep -q 'Subject: Codebolt upgraded to 1.5.0' <<<"$explained" || fail "journalctl -x does not explain the success from the catalog"

# codebolt-upgrade status and history speak of it
status=$(sb codebolt-upgrade status)
grep -q '1.4.0 → 1.5.0 succeeded' <<<"$status" || fail "codebolt-upgrade status does not say the upgrade 1.4.0 → 1.5.0 succeeded: $status"
sb codebolt-upgrade history --json | jq -e 'last.result == "succeeded"' >/dev/null || fail "codebolt-upgrade history --json disagrees"

# starting the same unit again is a clean skip: exit 0, nothing touched
server_id=$(sb systemctl show -P InvocationID codebolt.service)
backups_before=$(sb ls /backups/codebolt)
entries=$(echo "$ledger" | jq length)
sb systemctl start codebolt-upgrade@1.5.0.service || fail "starting codebolt-upgrade@1.5.0 again did not exit 0"
[ "$(sb systemctl show -P InvocationID codebolt.service)" = "$server_id" ] || fail "the second start touched the server"
[ "$(sb ls /backups/codebolt)" = "$backups_before" ] || fail "the second start took a backup"
[ "$(sb jq length /var/lib/codebolt-upgrade/default/ledger.json)" = "$entries" ] || fail "the second start wrote the ledger"
sb_journal_has codebolt-upgrade@1.5.0.service 'already runs 1.5.0' ||
        fail "the second start did not say why it skipped"

# the webhook heard the start, the announcement of the downtime and the success, once each (the skip above
# sent nothing), in that order, with the bearer token; the token itself is nowhere in the journal
hooks=$(sb cat /var/tmp/webhook.jsonl 2>/dev/null) || fail "the webhook receiver recorded nothing"
for e in started:preflight announce:backup succeeded:finish; do
        n=$(jq -s --arg e "${e%%:*}" --arg p "${e#*:}" '[.[] | select(.body.event == $e and .body.phase == $p
                and .body.version == "1.5.0" and .body.from == "1.4.0" and .body.deployment == "default"
                and (.body.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))
                and .headers.authorization == "Bearer hook-secret")] | length' <<<"$hooks")
        [ "$n" = 1 ] || fail "the webhook got $n '${e%%:*}' notifications for 1.5.0 with the bearer token, not 1: $(jq -c .body <<<"$hooks")"
done
[ "$(jq -rs '[.[].body.event] | join(",")' <<<"$hooks")" = started,announce,succeeded ] ||
        fail "the webhook's events are not exactly started, announce, succeeded: $(jq -c .body <<<"$hooks")"
# the announcement: when the server stops (AnnounceLead=10s from now), for how long at most, and no
# estimate yet (no earlier upgrade here)
jq -se '[.[] | select(.body.event == "announce")][0].body |
        (.stop_at | test("^[0-9-]{10}T[0-9:]{8}Z$")) and .expected_downtime_seconds == null and
        .max_downtime_seconds == (10 * 60 + 30 * 60 + 5 * 60 + 5 * 60) and
        (.basis | test("no earlier upgrade")) and (.message | test("will stop for the upgrade to 1.5.0 at "))' \
        <<<"$hooks" >/dev/null || fail "the announcement lacks the stop time or the downtime: $(jq -c .body <<<"$hooks")"
# AnnounceLead=10s: the drain began at least 10 s after the announcement
announced=$(sb journalctl -b -o json --no-pager -u codebolt-upgrade@1.5.0.service | jq -rs '[.[] | select(.MESSAGE | test("will stop for the upgrade"))][0].__REALTIME_TIMESTAMP')
drained=$(sb journalctl -b -o json --no-pager -u codebolt-upgrade@1.5.0.service | jq -rs '[.[] | select(.MESSAGE | test("^drain: "))][0].__REALTIME_TIMESTAMP')
{ [ -n "$announced" ] && [ -n "$drained" ] && [ "$((drained - announced))" -ge 10000000 ]; } ||
        fail "the drain did not wait AnnounceLead=10s after the announcement ($announced, $drained)"
# the ledger records the downtime, which the next announcement goes by
jq -e 'last | .downtime_seconds | type == "number" and . >= 0' <<<"$ledger" >/dev/null ||
        fail "the ledger does not record the downtime: $(jq -c last <<<"$ledger")"
journal=$(sb journalctl -b -o verbose --no-pager)
if grep -qF hook-secret <<<"$journal"; then fail "the webhook token appears in the journal"; fi

sb_log "PASS"
