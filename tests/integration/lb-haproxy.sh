#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One server behind HAProxy ([LoadBalancer] Driver=haproxy): the drain takes it out of HAProxy before
# the app's drain (maint while it is down) and finish gives it back (UP again). An admin socket that
# does not answer refuses the upgrade in preflight, touching nothing; after a failed smoke test the
# rollback gives the old version back to HAProxy.
# matrix[lb-upgrade]: drain | none: one server behind HAProxy | new (succeeded); out of HAProxy while down, UP again after
# matrix[lb-no-socket]: preflight | HAProxy's admin socket does not answer | old (refused); the server untouched, still UP
# matrix[lb-smoke-fails]: smoke | the smoke test fails behind HAProxy | old (rolled-back); the old version UP in HAProxy again
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

# HAProxy in front of the server, checking /health; its admin socket on TCP, as a remote one would be
sb tee /etc/cbu-test-haproxy.cfg >/dev/null <<'CFG'
global
        stats socket ipv4@127.0.0.1:9999 level admin
defaults
        mode http
        timeout connect 2s
        timeout client 30s
        timeout server 30s
        timeout check 2s
frontend web
        bind 127.0.0.1:8080
        default_backend codebolt
backend codebolt
        option httpchk GET /health
        server s1 127.0.0.1:3456 check inter 500ms fall 2 rise 2
CFG
sb systemd-run --quiet --unit=cbu-test-haproxy --property=Type=exec /usr/sbin/haproxy -db -f /etc/cbu-test-haproxy.cfg

# haproxy_cmd COMMAND: one command on the admin socket, its whole answer
haproxy_cmd() {
        # shellcheck disable=SC2016 # $1 is the inner bash's argument
        sb bash -c 'exec 3<>/dev/tcp/127.0.0.1/9999 && printf "%s\n" "$1" >&3 && cat <&3' _ "$1"
}
# s1_status: s1's status in `show stat` (column "status", found by its header)
s1_status() {
        haproxy_cmd "show stat codebolt 4 -1" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "status") c = i }
                $2 == "s1" { print $c }'
}
# wait_up SECONDS: until HAProxy's health check has s1 UP
wait_up() {
        local _
        for _ in $(seq $(($1 * 5))); do
                [ "$(s1_status 2>/dev/null)" = UP ] && return 0
                sleep 0.2
        done
        return 1
}
wait_up 60 || fail "HAProxy does not see the server UP: $(s1_status 2>&1)"

sb install -d -m 0755 /etc/codebolt-upgrade/upgrade.conf.d
lb_conf() {
        printf '[LoadBalancer]\nDriver=haproxy\nSocket=%s\nBackend=codebolt\nServer=s1\n' "$1" |
                sb tee /etc/codebolt-upgrade/upgrade.conf.d/50-lb.conf >/dev/null
}

# an upgrade behind HAProxy: sampled while it runs, s1 goes to MAINT and comes back UP
lb_conf tcp:127.0.0.1:9999
sb_log "systemctl start codebolt-upgrade@1.5.0 behind HAProxy"
sb systemctl start codebolt-upgrade@1.5.0.service &
upgrade=$!
seen=
while kill -0 "$upgrade" 2>/dev/null; do
        status=$(s1_status 2>/dev/null || true)
        case " $seen " in *" $status "*) ;; *) seen="$seen $status" ;; esac
        sleep 0.2
done
wait "$upgrade" || fail "systemctl start codebolt-upgrade@1.5.0 failed behind HAProxy"
[ "$(cbu_ledger_for 1.5.0 | jq -r 'last | .result')" = succeeded ] || fail "the upgrade behind HAProxy did not succeed"
[[ " $seen " == *" MAINT "* ]] || fail "HAProxy never had s1 in MAINT during the upgrade (seen:$seen)"
[ "$(s1_status)" = UP ] || fail "s1 is not UP in HAProxy after the upgrade: $(s1_status)"
out=$(sb_journal codebolt-upgrade@1.5.0.service)
out_line=$(grep -nF 'codebolt/s1 is out of the load balancer' <<<"$out" | head -n1 | cut -d: -f1)
drain_line=$(grep -nF 'drain: asking the server to take no new agent runs' <<<"$out" | head -n1 | cut -d: -f1)
back_line=$(grep -nF 'codebolt/s1 is back in the load balancer and UP' <<<"$out" | head -n1 | cut -d: -f1)
if [ -z "$out_line" ] || [ -z "$drain_line" ] || [ -z "$back_line" ]; then
        fail "the journal does not show s1 taken out, the app drained and s1 given back"
fi
[ "$out_line" -lt "$drain_line" ] || fail "the app was drained before HAProxy took s1 out"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "/health does not report 1.5.0 after the upgrade"
cbu_observe lb-upgrade 1.4.0 1.5.0

# an admin socket that does not answer: refused in preflight, the server and HAProxy untouched
lb_conf tcp:127.0.0.1:9998
invocation=$(sb systemctl show -P InvocationID codebolt.service)
sb_log "systemctl start codebolt-upgrade@1.5.1 with an admin socket that does not answer"
sb systemctl start codebolt-upgrade@1.5.1.service 2>/dev/null && fail "the upgrade to 1.5.1 ran without its admin socket"
result=$(cbu_wait_rollback 1.5.1) || fail "the refusal of 1.5.1 did not end: $result"
[ "$result" = refused ] || fail "the upgrade without an admin socket ended '$result', not refused"
out=$(cbu_invocation_journal codebolt-upgrade@1.5.1.service)
grep -qF 'gate balancer' <<<"$out" || fail "the refusal does not name the balancer gate: $out"
grep -qF 'tcp:127.0.0.1:9998' <<<"$out" || fail "the refusal does not name the socket: $out"
[ "$(sb systemctl show -P InvocationID codebolt.service)" = "$invocation" ] || fail "the refused upgrade restarted the server"
[ "$(s1_status)" = UP ] || fail "s1 is not UP in HAProxy after the refused upgrade: $(s1_status)"
cbu_observe lb-no-socket 1.5.0 1.5.1

# a smoke test that fails behind HAProxy: the rollback gives the old version back to HAProxy
lb_conf tcp:127.0.0.1:9999
sb_log "systemctl start codebolt-upgrade@1.5.4 (its smoke test fails) behind HAProxy"
sb systemctl start codebolt-upgrade@1.5.4.service 2>/dev/null && fail "the upgrade to 1.5.4 succeeded"
result=$(cbu_wait_rollback 1.5.4) || fail "the rollback of 1.5.4 did not end: $result"
[ "$result" = rolled-back ] || fail "the rollback of 1.5.4 ended '$result', not rolled-back"
[ "$(s1_status)" = UP ] || fail "s1 is not UP in HAProxy after the rollback: $(s1_status)"
sb_journal_has codebolt-rollback@1.5.4.service 'codebolt/s1 is back in the load balancer and UP' ||
        fail "the rollback did not give s1 back to HAProxy"
cbu_observe lb-smoke-fails 1.5.0 1.5.4
sb_log "PASS"
