#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The stage hooks, as a site uses them. The shipped pre-upgrade.d/10-dpkg-lock refuses while apt holds
# dpkg's lock; masked from /etc, a failing site hook in /etc refuses instead, its output in the journal:
# the server keeps running untouched, no backup, ledger `refused`. So does a site hook the server user
# owns, which never runs: root runs only what root alone can change. Masked in turn, the upgrade goes on:
# a failing smoke.d hook rolls it back (rollback.d sees the result); without it the next upgrade
# succeeds, and post-upgrade.d sees the whole context, a failing one changing nothing.
# matrix[hook-fails]: preflight | a pre-upgrade.d hook fails (the shipped dpkg-lock check; a site hook) | old (refused)
# matrix[hook-server-owned]: preflight | a pre-upgrade.d hook is owned by the server user | old (refused)
# matrix[hook-smoke-fails]: smoke | a smoke.d hook fails | old (rolled-back)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

SITE=/etc/codebolt-upgrade/hooks
server_id=$(sb systemctl show -P InvocationID codebolt.service)

# hook NAME SCRIPT: an executable site hook (NAME is <stage>.d/<file>)
hook() {
        # shellcheck disable=SC2016 # the script runs in the sandbox's shell, which expands it
        sb sh -c 'printf "#!/bin/sh\n%s\n" "$2" >"$1" && chmod 0755 "$1"' sh "$SITE/$1" "$2"
}

# refused VERSION WHAT: the start of VERSION was refused in preflight, touching nothing
refused() {
        local v=$1 entries=$2 result
        sb systemctl start "codebolt-upgrade@$v.service" 2>/dev/null && fail "$3: the upgrade to $v was not refused"
        result=$(cbu_wait_rollback "$v" "$entries") || fail "$3: the rollback of the refusal did not end: $result"
        [ "$result" = refused ] || fail "$3: the upgrade ended '$result', not refused"
        [ "$(cbu_ledger_for "$v" | jq -r 'last | .phase')" = preflight ] || fail "$3: the refusal was not in preflight"
        [ "$(sb systemctl show -P InvocationID codebolt.service)" = "$server_id" ] || fail "$3: the server was restarted"
        [ "$(cbu_health_version)" = 1.4.0 ] || fail "$3: the server no longer runs 1.4.0"
        [ "$(sb ls -A /opt/codebolt/releases)" = 1.4.0 ] || fail "$3: something was staged"
        sb test ! -e /backups/codebolt || [ -z "$(sb ls -A /backups/codebolt)" ] || fail "$3: a backup was taken"
        sb test ! -e "$CBU_STATE/current.json" || fail "$3: current.json was left behind"
        # a refusal is no rollback: rollback.d is not run
        sb test ! -e /var/lib/cbu-test-rollback.env || fail "$3: rollback.d ran for a refusal"
}

# rollback.d and post-upgrade.d record what they were given
hook rollback.d/50-record 'env | LC_ALL=C sort >/var/lib/cbu-test-rollback.env'
hook post-upgrade.d/50-record 'env | LC_ALL=C sort >/var/lib/cbu-test-post-upgrade.env'

# 1. apt holds dpkg's lock: the shipped hook refuses, naming the holder
sb systemd-run --quiet --unit=hk-apt --property=Type=exec /usr/bin/python3 -c \
        'import fcntl, time; f = open("/var/lib/dpkg/lock-frontend", "r+"); fcntl.lockf(f, fcntl.LOCK_EX); time.sleep(3600)'
for _ in $(seq 100); do
        grep -qx /var/lib/dpkg/lock-frontend <<<"$(sb lslocks --noheadings --raw --output PATH)" && break
        sleep 0.2
done
sb_log "systemctl start codebolt-upgrade@1.5.0 while dpkg's lock is held"
refused 1.5.0 0 "dpkg's lock held"
out=$(cbu_invocation_journal codebolt-upgrade@1.5.0.service)
grep -qF "dpkg's lock /var/lib/dpkg/lock-frontend is held by pid" <<<"$out" ||
        fail "the refusal does not show 10-dpkg-lock's output: $out"
grep -qF "/usr/lib/codebolt-upgrade/hooks/pre-upgrade.d/10-dpkg-lock exited with status 1: refusing the upgrade" <<<"$out" ||
        fail "the refusal does not name the shipped hook: $out"

# 2. the site masks the shipped hook (the lock is still held) and adds a check of its own, which fails
sb ln -s /dev/null "$SITE/pre-upgrade.d/10-dpkg-lock"
# shellcheck disable=SC2016 # the hook's own variables, expanded when the hook runs
hook pre-upgrade.d/50-site-check 'echo "change freeze until Friday ($CODEBOLT_UPGRADE_FROM -> $CODEBOLT_UPGRADE_TO)"; exit 3'
sb_log "systemctl start codebolt-upgrade@1.5.0 with a failing site hook"
refused 1.5.0 1 "a failing site hook"
out=$(cbu_invocation_journal codebolt-upgrade@1.5.0.service)
grep -qF 'change freeze until Friday (1.4.0 -> 1.5.0)' <<<"$out" || fail "the site hook's output is not in the journal: $out"
grep -qF "$SITE/pre-upgrade.d/50-site-check exited with status 3: refusing the upgrade" <<<"$out" ||
        fail "the refusal does not name the site hook and its status: $out"
cbu_observe hook-fails 1.4.0 1.5.0
grep -qF "dpkg's lock" <<<"$out" && fail "the masked 10-dpkg-lock ran: $out"
out=$(sb journalctl -b --no-pager -o cat -t pre-upgrade.d/50-site-check)
grep -qF 'change freeze' <<<"$out" || fail "the site hook's output is not under its own identifier: $out"
sb systemctl stop hk-apt.service

# 3. masked too, a hook that would pass but belongs to the server user: refused, not run
sb ln -sf /dev/null "$SITE/pre-upgrade.d/50-site-check"
hook pre-upgrade.d/40-server-owned 'touch /var/tmp/server-owned.ran'
sb chown codebolt: "$SITE/pre-upgrade.d/40-server-owned"
sb_log "systemctl start codebolt-upgrade@1.5.0 with a site hook owned by codebolt"
refused 1.5.0 2 "a hook owned by the server user"
sb test ! -e /var/tmp/server-owned.ran || fail "the hook owned by codebolt ran"
out=$(cbu_invocation_journal codebolt-upgrade@1.5.0.service)
hook_path=$SITE/pre-upgrade.d/40-server-owned
grep -qF "Hook $hook_path was refused: $hook_path is owned by uid $(sb id -u codebolt) with mode 0755" <<<"$out" ||
        fail "the refusal does not name the hook and its owner: $out"
grep -qF "(chown root:root $hook_path; chmod go-w $hook_path): refusing the upgrade" <<<"$out" ||
        fail "the refusal does not say the fix: $out"
cbu_observe hook-server-owned 1.4.0 1.5.0
sb rm "$hook_path"

# 4. the upgrade goes on; a failing smoke.d hook fails smoke and the upgrade is rolled back
hook smoke.d/50-site-smoke 'echo "site smoke check: the SSO login page answers 502" >&2; exit 1'
sb_log "systemctl start codebolt-upgrade@1.5.0 with a failing smoke.d hook"
sb systemctl start codebolt-upgrade@1.5.0.service 2>/dev/null && fail "the upgrade to 1.5.0 succeeded with a failing smoke.d hook"
result=$(cbu_wait_rollback 1.5.0 3) || fail "the rollback of 1.5.0 did not end: $result"
[ "$result" = rolled-back ] || fail "the failing smoke.d hook ended the upgrade '$result', not rolled-back"
entry=$(cbu_ledger_for 1.5.0 | jq -c last)
[ "$(jq -r .phase <<<"$entry")" = smoke ] || fail "the ledger does not say 1.5.0 failed in smoke: $entry"
sb_journal_has codebolt-upgrade@1.5.0.service 'site smoke check: the SSO login page answers 502' ||
        fail "the smoke.d hook's output is not in the journal"
[ "$(cbu_health_version)" = 1.4.0 ] || fail "/health does not report 1.4.0 after the rollback"
env=$(sb cat /var/lib/cbu-test-rollback.env) || fail "rollback.d did not run after the rollback"
expected="CODEBOLT_UPGRADE_BACKUP=$(jq -r .backup <<<"$entry")
CODEBOLT_UPGRADE_DEPLOYMENT=default
CODEBOLT_UPGRADE_FROM=1.4.0
CODEBOLT_UPGRADE_PHASE=rollback
CODEBOLT_UPGRADE_RESULT=rolled-back
CODEBOLT_UPGRADE_STAGE=rollback
CODEBOLT_UPGRADE_TO=1.5.0"
[ "$(grep ^CODEBOLT_ <<<"$env")" = "$expected" ] || fail "rollback.d's environment is not the rollback's context:
$env"
cbu_observe hook-smoke-fails 1.4.0 1.5.0

# 5. without it the next upgrade succeeds; post-upgrade.d gets the context, and a failing one before it
# is a warning only
sb rm "$SITE/smoke.d/50-site-smoke"
hook post-upgrade.d/40-fails 'echo "the wiki page could not be updated" >&2; exit 1'
sb_log "systemctl start codebolt-upgrade@1.5.0-rc.1"
sb systemctl start codebolt-upgrade@1.5.0-rc.1.service || fail "the upgrade to 1.5.0-rc.1 failed"
entry=$(cbu_ledger_for 1.5.0-rc.1)
[ "$(jq -r 'map(.result) | join(",")' <<<"$entry")" = succeeded ] || fail "the ledger for 1.5.0-rc.1 is not one success: $entry"
entry=$(jq -c last <<<"$entry")
[ "$(cbu_health_version)" = 1.5.0-rc.1 ] || fail "/health does not report 1.5.0-rc.1"
# (a oneshot that succeeded has no InvocationID left to select by: it ran once)
out=$(sb_journal codebolt-upgrade@1.5.0-rc.1.service)
grep -qF "post-upgrade.d/40-fails exited with status 1" <<<"$out" || fail "the failing post-upgrade.d hook is not reported: $out"
env=$(sb cat /var/lib/cbu-test-post-upgrade.env) || fail "post-upgrade.d/50-record did not run after the failing 40-fails"
expected="CODEBOLT_UPGRADE_BACKUP=$(jq -r .backup <<<"$entry")
CODEBOLT_UPGRADE_DEPLOYMENT=default
CODEBOLT_UPGRADE_FROM=1.4.0
CODEBOLT_UPGRADE_PHASE=finish
CODEBOLT_UPGRADE_STAGE=post-upgrade
CODEBOLT_UPGRADE_TO=1.5.0-rc.1
LANG=C.UTF-8
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PWD=/"
[ "$env" = "$expected" ] || fail "post-upgrade.d's environment is not exactly the upgrade's context:
$(diff <(echo "$expected") <(echo "$env"))"
sb test -d "$(jq -r .backup <<<"$entry")" || fail "CODEBOLT_UPGRADE_BACKUP does not name the backup"

sb_log "PASS"
