# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# cells.sh: the cells of the fault matrix one after another on the same deployment, which runs
# $CELL_FROM (default 1.4.0) before each: what a cell notes before its fault, and the outcome "old"
# checked against it afterwards. Sourced after codebolt.sh.
#
#   cell_start VERSION               note the ledger, the seeded rows, the stores and the server's
#                                    invocation, then start the upgrade to VERSION without waiting for it
#   cell_expect_unchanged WHAT       failed before the server stopped: $CELL_FROM serves on the same rows
#                                    and store files, nothing of the version is staged, nothing in flight
#   cell_expect_old WHAT RESULT      failed after the server stopped: cbu_expect_old with RESULT, then
#                                    `codebolt-upgrade clear` allows the version again for the next cell
#   cell_expect_new_entry WHAT RESULT   the cell wrote exactly one ledger entry for the version, RESULT
#                                    from $CELL_FROM, under an id none of the earlier entries has
#   cell_observe CELL                once the cell's checks passed: print the outcome the sandbox shows
#                                    for the matrix cell CELL (cbu_observe, $CELL_FROM → the version)
#
# cell_version, cell_entries (the number of the ledger's entries for it before), cell_ids (their ids),
# cell_hmax, cell_digests, cell_stores and cell_server hold what cell_start noted.

CELL_FROM=${CELL_FROM:-1.4.0}

# every file of the stores, with its type, owner, mode and checksum
cell_stores_state() {
        sb sh -c 'cd /var/lib/codebolt && find . -printf "%y %u:%g %m %p\n" | sort &&
                find . -type f -print0 | sort -z | xargs -0 sha256sum'
}

cell_start() {
        cell_version=$1
        cell_entries=$(cbu_ledger_for "$1" | jq length)
        cell_ids=$(cbu_ledger_for "$1" | jq -c 'map(.id)')
        cell_hmax=$(cbu_history_max)
        cell_digests=$(cbu_table_digests "$cell_hmax")
        cell_stores=$(cell_stores_state)
        # shellcheck disable=SC2034 # for the scenario (kill-each-phase.sh), as the header says
        cell_server=$(sb systemctl show -P InvocationID codebolt.service)
        sb_log "systemctl start --no-block codebolt-upgrade@$1"
        sb systemctl start --no-block "codebolt-upgrade@$1.service"
}

cell_expect_unchanged() {
        local what=$1 out b
        cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60 || fail "$what: the server does not answer"
        [ "$(cbu_health_version)" = "$CELL_FROM" ] || fail "$what: the server does not answer as $CELL_FROM"
        [ "$(sb readlink -f /opt/codebolt/current)" = "/opt/codebolt/releases/$CELL_FROM" ] ||
                fail "$what: /opt/codebolt/current points at $(sb readlink -f /opt/codebolt/current)"
        ! sb test -e "$CBU_STATE/pin" || [ "$(sb cat "$CBU_STATE/pin")" = "$CELL_FROM" ] ||
                fail "$what: the pin says $(sb cat "$CBU_STATE/pin")"
        ! sb test -e "/opt/codebolt/releases/$cell_version" ||
                fail "$what: /opt/codebolt/releases/$cell_version was left staged"
        [ "$(cbu_table_digests "$cell_hmax")" = "$cell_digests" ] || fail "$what: the seeded tables' rows changed"
        out=$(cbu_extra_history "$cell_hmax")
        [ -z "$out" ] || fail "$what: history has rows no smoke test wrote: $out"
        [ "$(cell_stores_state)" = "$cell_stores" ] || fail "$what: the stores changed"
        out=$(cbu_git_fsck) || fail "$what: git fsck: $out"
        sb test ! -e "$CBU_STATE/current.json" || fail "$what: an upgrade is still in flight (current.json)"
        # a backup not named .partial is complete and verified
        for b in $(sb sh -c 'ls -d /backups/codebolt/*/ 2>/dev/null | grep -v "\.partial/$"' || true); do
                sb jq -e '.verified == true' "$b/manifest.json" >/dev/null 2>&1 ||
                        fail "$what: $b looks like a finished backup but has no verified manifest"
        done
}

cell_expect_old() {
        cbu_expect_old "$CELL_FROM" "$cell_version" "$2" "$cell_digests" "$cell_hmax"
        sb codebolt-upgrade clear "$cell_version" >/dev/null || fail "$1: codebolt-upgrade clear $cell_version failed"
}

cell_expect_new_entry() {
        local entries entry
        entries=$(cbu_ledger_for "$cell_version")
        [ "$(jq length <<<"$entries")" = $((cell_entries + 1)) ] ||
                fail "$1: the ledger has $(jq length <<<"$entries") entries for $cell_version, not $cell_entries + 1: $entries"
        entry=$(jq -c last <<<"$entries")
        jq -e --arg f "$CELL_FROM" --arg r "$2" --argjson ids "$cell_ids" \
                '.result == $r and .from == $f and (.id | type == "string" or type == "number") and
                 (.id as $id | $ids | index($id) | not)' <<<"$entry" >/dev/null ||
                fail "$1: the new ledger entry for $cell_version is not a new '$2' from $CELL_FROM: $entry"
}

cell_observe() {
        cbu_observe "$1" "$CELL_FROM" "$cell_version"
}
