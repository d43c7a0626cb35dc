#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The machine loses power while a migration is half applied. At the next boot the recovery puts back
# the database, the stores, the release and the pin before the server starts, the server starts on the
# old version, and the check after it writes the ledger: restored, with every seeded row as before.
SB_DISK=1
# matrix[power-cut-migrations]: migrations | a crash of the whole machine mid-migration | old (restored at boot)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

digest() {
        local t
        for t in users projects history memory; do
                echo "$t:$(cbu_psql -c "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM $t t WHERE id <= $(cbu_psql -c "SELECT coalesce(max(id), 0) FROM $t")")"
        done
}
ids_before=$(for t in history memory; do echo "$t:$(cbu_psql -c "SELECT coalesce(max(id), 0) FROM $t")"; done)
digests_before=$(for t in users projects history memory; do
        max=$(grep "^$t:" <<<"$ids_before" | cut -d: -f2)
        echo "$t:$(cbu_psql -c "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM $t t${max:+ WHERE id <= $max}")"
done)
stores_before=$(sb sh -c 'cd /var/lib/codebolt && find . -type f -print0 | sort -z | xargs -0 sha256sum')

# 1.5.6 takes 8 s over each migration: cut the power while the first one is applying
sb systemctl start --no-block codebolt-upgrade@1.5.6.service
for _ in $(seq 300); do
        state=$(sb jq -r '[.migrations[]? | select(.state == "applying")] | length' /var/lib/codebolt-upgrade/default/current.json 2>/dev/null || true)
        [ "${state:-0}" -ge 1 ] && break
        sleep 0.2
done
[ "${state:-0}" -ge 1 ] || fail "the upgrade never reached a migration in flight"
sandbox_power_cut
sandbox_boot_again

# the recovery ran before the server, and the check after it
for _ in $(seq 300); do
        result=$(sb jq -r '[.[] | select(.to == "1.5.6")] | last | .result // empty' /var/lib/codebolt-upgrade/default/ledger.json 2>/dev/null || true)
        [ -n "$result" ] && break
        sleep 0.5
done
[ "$result" = restored ] || fail "after the power cut the ledger says '${result:-nothing}' for 1.5.6, not restored"
sb test ! -e /var/lib/codebolt-upgrade/default/current.json || fail "current.json remains after the recovery"
recover_start=$(sb systemctl show -P ExecMainStartTimestampMonotonic codebolt-upgrade-recover.service)
server_start=$(sb systemctl show -P ExecMainStartTimestampMonotonic codebolt.service)
{ [ "$recover_start" -gt 0 ] && [ "$recover_start" -lt "$server_start" ]; } || fail "the recovery did not run before the server started"

# outcome old: the old version, every seeded row, every store byte, clean git repositories
[ "$(cbu_health_version)" = 1.4.0 ] || fail "the server does not run 1.4.0 after the recovery"
[ "$(sb cat /var/lib/codebolt-upgrade/default/pin)" = 1.4.0 ] || fail "the pin is not back on 1.4.0"
[ "$(sb readlink -f /opt/codebolt/current)" = /opt/codebolt/releases/1.4.0 ] || fail "/opt/codebolt/current is not back on 1.4.0"
digests_after=$(for t in users projects history memory; do
        max=$(grep "^$t:" <<<"$ids_before" | cut -d: -f2)
        echo "$t:$(cbu_psql -c "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM $t t${max:+ WHERE id <= $max}")"
done)
[ "$digests_after" = "$digests_before" ] || fail "seeded rows differ after the recovery: $digests_before / $digests_after"
[ "$(cbu_psql -c "SELECT count(*) FROM schema_migrations WHERE id LIKE '202603%'")" = 0 ] ||
        fail "1.5.6's migrations are still in the database"
stores_after=$(sb sh -c 'cd /var/lib/codebolt && find . -type f -print0 | sort -z | xargs -0 sha256sum')
[ "$stores_after" = "$stores_before" ] || fail "the stores differ after the recovery"
for repo in alpha beta gamma; do
        sb runuser -u codebolt -- git -C "/var/lib/codebolt/shadow-git/$repo" fsck --strict --full --no-progress 2>/dev/null ||
                fail "git fsck fails on shadow-git/$repo"
done
sb_journal_has codebolt-upgrade-recover.service "was interrupted in phase migrate" ||
        fail "the recovery does not say what it found"
cbu_observe power-cut-migrations 1.4.0 1.5.6
sb_log "PASS"
