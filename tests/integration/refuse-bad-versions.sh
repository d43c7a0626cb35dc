#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An operator names something that is not an exact version: every attempt fails in preflight with a
# message naming the rule, the server keeps running the old version untouched, and no backup is taken.
# matrix[bad-version]: preflight | not an exact version (latest, ^1.5.0, 1.5, v1.5.0, shell characters, /, 150, 200 and 300 characters) | old (refused)
# matrix[unpublished]: preflight | the version is not published in the registry | old (refused)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

server_id=$(sb systemctl show -P InvocationID codebolt.service)
long150=1.5.0-$(printf 'a%.0s' $(seq 144))
long200=1.5.0-$(printf 'a%.0s' $(seq 194))
long300=1.5.0-$(printf 'a%.0s' $(seq 294))

# version | the words the refusal must contain
# shellcheck disable=SC2016 # hostile version strings, meant literally
cases=(
        "latest|is a tag, not a version"
        "^1.5.0|range"
        "1.5|three numbers"
        "v1.5.0|leading 'v'"
        '1.5.0;rm -rf /|only [0-9A-Za-z.+-]'
        '1.5.0$(reboot)|only [0-9A-Za-z.+-]'
        "$long150|longer than 128 characters"
)

check_untouched() {
        [ "$(sb systemctl show -P InvocationID codebolt.service)" = "$server_id" ] || fail "$1: the server was restarted"
        [ "$(cbu_health_version)" = 1.4.0 ] || fail "$1: the server no longer runs 1.4.0"
        [ "$(sb readlink -f /opt/codebolt/current)" = /opt/codebolt/releases/1.4.0 ] || fail "$1: /opt/codebolt/current moved"
        sb test ! -e /backups/codebolt || [ -z "$(sb ls -A /backups/codebolt)" ] || fail "$1: a backup was taken"
        sb test ! -e /var/lib/codebolt-upgrade/default/current.json || fail "$1: current.json was left behind"
        [ "$(sb ls -A /opt/codebolt/releases)" = 1.4.0 ] || fail "$1: something was staged: $(sb ls -A /opt/codebolt/releases | tr '\n' ' ')"
}

for c in "${cases[@]}"; do
        v=${c%%|*}
        words=${c#*|}
        unit=$(sb systemd-escape --template=codebolt-upgrade@.service -- "$v")
        sb_log "systemctl start $unit"
        sb systemctl start "$unit" 2>/dev/null && fail "'$v' was accepted"
        sb_journal_has "$unit" "$words" ||
                fail "the refusal of '$v' does not say '$words': $(sb_journal "$unit" | tail -n 5)"
        check_untouched "$v"
done

explained=$(sb journalctl -b --no-pager -x -u codebolt-upgrade@latest.service)
grep -q 'Subject: Codebolt upgrade to latest failed in preflight' <<<"$explained" ||
        fail "journalctl -x does not explain the refusal of 'latest' from the catalog"

# a slash cannot come through systemd-escape (it becomes '-'), only as an explicit \x2f
unit='codebolt-upgrade@1.5.0\x2fevil.service'
sb systemctl start "$unit" 2>/dev/null && fail "'1.5.0/evil' was accepted"
sb_journal_has "$unit" 'only [0-9A-Za-z.+-]' || fail "the refusal of '1.5.0/evil' does not name the rule"
check_untouched "1.5.0/evil"

# a 200-character version makes a unit name that systemd starts but cannot give a private /tmp (the
# directory's name, which holds the unit's, would pass 255 characters): the unit fails before any
# helper runs ('resources'), and nothing is touched
unit=$(sb systemd-escape --template=codebolt-upgrade@.service -- "$long200")
sb systemctl start "$unit" 2>/dev/null && fail "a 200-character version was accepted"
check_untouched "a 200-character version"

# systemd itself refuses unit names over 255 characters, so a 300-character version never reaches the
# unit; the preflight helper refuses it on its own as well
unit="codebolt-upgrade@$long300.service"
sb systemctl start "$unit" 2>/dev/null && fail "a 300-character version was accepted"
out=$(sb /usr/libexec/codebolt-upgrade/preflight "$long300" 2>&1) && fail "preflight accepted a 300-character version"
grep -qF 'longer than 128 characters' <<<"$out" || fail "preflight's refusal of a 300-character version does not name the rule: $out"
check_untouched "a 300-character version"

# an exact version the registry does not publish is refused in preflight, from the release metadata,
# before anything is staged
sb systemctl start codebolt-upgrade@1.9.9.service 2>/dev/null && fail "1.9.9, which the registry lacks, was accepted"
for _ in $(seq 100); do
        result=$(sb jq -r '[.[] | select(.to == "1.9.9")] | last | .result // empty' /var/lib/codebolt-upgrade/default/ledger.json 2>/dev/null || true)
        [ -n "$result" ] && [ "$(sb systemctl is-active codebolt-rollback@1.9.9.service)" != activating ] && break
        sleep 0.2
done
[ "$result" = refused ] || fail "1.9.9, which the registry lacks, ended '$result' in the ledger, not refused"
sb_journal_has codebolt-upgrade@1.9.9.service "gate published: fail: 1.9.9 is not published in http://127.0.0.1:$CBU_REGISTRY_PORT/@codebolt%2fserver" ||
        fail "the refusal of 1.9.9 does not say it is not published, and where it looked"
check_untouched "1.9.9 (not in the registry)"
cbu_observe unpublished 1.4.0 1.9.9

# each refusal is in the ledger as refused, and none of them marks its version failed
[ "$(sb jq '[.[] | select(.result == "refused")] | length' /var/lib/codebolt-upgrade/default/ledger.json)" -ge 9 ] ||
        fail "the refusals are not in the ledger"
# every refusal of a version not exact is in the ledger by now; 'latest' stands for them
cbu_observe bad-version 1.4.0 latest

sb_log "PASS"
