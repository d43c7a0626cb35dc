#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The gates of preflight, each refusing before anything is touched: Node.js too old for the release
# (1.5.8 wants >=99), PostgreSQL outside its range (1.5.9), a connected client below minClientProtocol,
# an incompatible tool, a major version without AllowMajor=, a major version 1.4.0 cannot reach directly
# (2.0.0 upgrades from 1.9.x: `plan` shows the chain through 1.9.3), and production's staging gate (baked
# 2 h of 24 h: refused; 25 h: the upgrade proceeds). Every refusal names its reason in the journal and
# in `codebolt-upgrade plan`, the server keeps running in the same invocation, and no backup is taken.
# matrix[gate-node]: preflight | Node.js older than the release's engines.node | old (refused)
# matrix[gate-postgres]: preflight | PostgreSQL outside the release's codebolt.postgres | old (refused)
# matrix[gate-clients]: preflight | a connected client below the release's minClientProtocol | old (refused, naming it)
# matrix[gate-tools]: preflight | an incompatible tool | old (refused, naming it)
# matrix[gate-path]: preflight | a major version that needs an intermediate one | old (refused, naming the next step)
# matrix[gate-staging-early]: preflight | production, the version baked 2 h of 24 h on staging | old (refused)
# matrix[gate-staging-baked]: preflight | production, the version baked 25 h on staging | new
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

server_id=$(sb systemctl show -P InvocationID codebolt.service)
sb install -d /etc/codebolt-upgrade/upgrade.conf.d

# refused VERSION GATE WANT: the upgrade to VERSION is refused by GATE, its journal says WANT, nothing
# was touched, the ledger says refused, and `plan` shows the same failed gate
refused() {
        local v=$1 gate=$2 want=$3 line out seen
        seen=$(cbu_ledger_for "$v" | jq length)
        sb_log "systemctl start codebolt-upgrade@$v (expect the $gate gate to refuse)"
        sb systemctl start "codebolt-upgrade@$v.service" 2>/dev/null && fail "the upgrade to $v was not refused by the $gate gate"
        result=$(cbu_wait_rollback "$v" "$seen") || fail "$v: $result"
        [ "$result" = refused ] || fail "the ledger says '$result' for $v, not refused"
        line=$(sb_journal "codebolt-upgrade@$v.service" | grep -F "gate $gate: fail" | tail -n 1)
        [ -n "$line" ] || fail "the journal of the refused upgrade to $v has no failed $gate gate"
        grep -qF -- "$want" <<<"$line" || fail "the $gate gate does not say '$want': $line"
        [ "$(sb systemctl show -P InvocationID codebolt.service)" = "$server_id" ] || fail "the refused upgrade to $v touched the server"
        [ -z "$(sb ls -A /backups/codebolt 2>/dev/null)" ] || fail "the refused upgrade to $v took a backup: $(sb ls /backups/codebolt)"
        [ "$(sb readlink -f /opt/codebolt/current)" = /opt/codebolt/releases/1.4.0 ] || fail "the refused upgrade to $v moved the release link"
        [ "$(sb ls -A /opt/codebolt/releases)" = 1.4.0 ] || fail "the refused upgrade to $v staged a release"
        out=$(sb codebolt-upgrade plan "$v") && fail "codebolt-upgrade plan $v exits 0 where the upgrade is refused: $out"
        grep -E "^ +fail +$gate " <<<"$out" | grep -qF -- "$want" || fail "codebolt-upgrade plan $v does not show the $gate gate failing with '$want': $out"
}

# Node.js and PostgreSQL versions, from the release metadata
refused 1.5.8 node "does not satisfy 1.5.8's engines.node '>=99'"
cbu_observe gate-node 1.4.0 1.5.8
refused 1.5.9 postgres "does not satisfy 1.5.9's codebolt.postgres '>=99'"
cbu_observe gate-postgres 1.4.0 1.5.9

# a desktop app on protocol 5 is connected; 1.5.0 wants 6
sb sh -c 'echo "[{\"id\": \"desk-ana\", \"kind\": \"desktop\", \"version\": \"1.3.2\", \"protocol\": 5}, {\"id\": \"cli-ci\", \"kind\": \"cli\", \"version\": \"1.4.0\", \"protocol\": 6}]" >/var/lib/codebolt/clients.json'
refused 1.5.0 clients "desk-ana (desktop 1.3.2, protocol 5)"
cbu_observe gate-clients 1.4.0 1.5.0
sb rm /var/lib/codebolt/clients.json
# a server that is not running has no client connected: the gate is skipped, saying so
sb systemctl stop codebolt.service
out=$(sb codebolt-upgrade plan 1.5.0) || fail "codebolt-upgrade plan 1.5.0 refuses with the server stopped: $out"
grep -E '^ +skipped +clients ' <<<"$out" | grep -qF 'codebolt.service is inactive: no client is connected to it' ||
        fail "plan does not skip the clients gate of a stopped server: $out"
sb systemctl start codebolt.service
cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60 || fail "codebolt.service did not come back"
server_id=$(sb systemctl show -P InvocationID codebolt.service)

# a tool the new version is incompatible with, then allowed by the site
sb sh -c 'echo "[{\"name\": \"shell\", \"version\": \"1.0.0\", \"status\": \"ok\"}, {\"name\": \"browser\", \"version\": \"0.9.3\", \"status\": \"incompatible\"}]" >/var/lib/codebolt/capabilities/tools.json'
refused 1.5.0 tools "browser 0.9.3"
cbu_observe gate-tools 1.4.0 1.5.0
sb sh -c 'printf "[Policy]\nAllowIncompatible=browser\n" >/etc/codebolt-upgrade/upgrade.conf.d/50-allow.conf'
out=$(sb codebolt-upgrade plan 1.5.0) || fail "codebolt-upgrade plan 1.5.0 refuses with the tool allowed: $out"
grep -E '^ +pass +tools ' <<<"$out" | grep -qF 'allowed by AllowIncompatible=: browser 0.9.3' ||
        fail "plan does not say the incompatible tool is allowed: $out"
grep -qE '^  Hooks: +/usr/lib/codebolt-upgrade/hooks/pre-upgrade.d/10-dpkg-lock$' <<<"$out" ||
        fail "plan does not list the pre-upgrade.d hook that would run: $out"
sb rm /etc/codebolt-upgrade/upgrade.conf.d/50-allow.conf /var/lib/codebolt/capabilities/tools.json

# a major version: not without AllowMajor=yes, and never in one jump from 1.4.0
refused 2.0.0 kind "needs [Policy] AllowMajor=yes"
sb sh -c 'printf "[Policy]\nAllowMajor=yes\n" >/etc/codebolt-upgrade/upgrade.conf.d/50-major.conf'
refused 2.0.0 path "upgrade to 1.9.3 first (the path: 1.4.0 → 1.9.3 → 2.0.0)"
cbu_observe gate-path 1.4.0 2.0.0
out=$(sb codebolt-upgrade plan --json 2.0.0) && fail "plan --json 2.0.0 exits 0"
jq -e '.path == ["1.9.3", "2.0.0"] and .kind == "major" and .proceed == false' <<<"$out" >/dev/null ||
        fail "plan --json does not show the chain 1.4.0 → 1.9.3 → 2.0.0: $out"
sb rm /etc/codebolt-upgrade/upgrade.conf.d/50-major.conf

# production follows staging: 1.5.0 baked 2 h of BakeTime=24h there
stamp() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
staging_ledger() {
        sb sh -c "cat >/etc/codebolt-upgrade/staging-ledger.json" <<EOF
[{"id": "s1", "from": "1.4.0", "to": "1.5.0", "result": "succeeded", "finished": "$(stamp "$1")", "watch": "ok"}]
EOF
}
sb sh -c 'printf "[Policy]\nRole=production\nStagingLedger=/etc/codebolt-upgrade/staging-ledger.json\n" >/etc/codebolt-upgrade/upgrade.conf.d/60-production.conf'
staging_ledger "2 hours ago"
refused 1.5.0 staging "1.5.0 succeeded on staging 2h ago; BakeTime= is 24h: 22h to go"
cbu_observe gate-staging-early 1.4.0 1.5.0

# baked 25 h: it proceeds, and the journal says which gate let it
staging_ledger "25 hours ago"
sb_log "systemctl start codebolt-upgrade@1.5.0 (baked 25 h on staging)"
sb systemctl start codebolt-upgrade@1.5.0.service || fail "the upgrade to 1.5.0 baked 25 h on staging failed"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "the server does not run 1.5.0 after the upgrade"
[ "$(cbu_ledger_for 1.5.0 | jq -r 'last | .result')" = succeeded ] || fail "the ledger does not say 1.5.0 succeeded"
sb_journal_has codebolt-upgrade@1.5.0.service 'gate staging: pass: 1.5.0 succeeded on staging 25h ago (BakeTime= 24h), watch ok' ||
        fail "the journal does not show the staging gate passing"
cbu_observe gate-staging-baked 1.4.0 1.5.0
sb_log "PASS"
