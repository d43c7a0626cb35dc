#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The server's user owns the staging tree that root works in during `stage`, and may do anything in
# it at any moment. Here it tries, as an attacker would:
#   1. releases/ (or the install root) made its own or group-writable, or an NpmConfig= file of its
#      own: stage refuses, naming the fix;
#   2. a process of the server's user swaps npm's HOME for a link to /root in a tight loop while root
#      stages (and copies the NpmConfig= file with its token into that HOME), over many tries: no file
#      outside the staging tree changes, /root included;
#   3. a package added to a release after its stage: that release no longer counts as staged earlier;
#   4. a release root put in place without a stage: refused, never "staged earlier".
# Then the upgrade goes through as usual.
# matrix[stage-race]: stage | the server's user races a link swap into the staging tree | old (aborted)
# matrix[stage-planted]: stage | a release put in releases/ by other means than a stage | old (aborted)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

LIBEXEC=/usr/libexec/codebolt-upgrade
STAGING=/opt/codebolt/releases/.1.5.0.staging
TRIES=${CBU_RACE_TRIES:-30}
server_id=$(sb systemctl show -P InvocationID codebolt.service)

# stage_by_hand: the stage helper as the upgrade unit runs it, its messages on stdout
stage_by_hand() {
        sb "$LIBEXEC/stage" 1.5.0 2>&1
}

# written_since MARKER [PATH]: what the sandbox wrote (its overlay's upper layer, where every file it
# creates or changes lands, and nothing the host does) below PATH since MARKER, as sandbox paths
written_since() {
        local upper=$SB_DIR/layers/upper
        # a PATH the sandbox never wrote below is not in the upper layer at all
        { nsenter -t "$SB_PID" -m -- find "$upper${2:-}" -newer "$upper$1" 2>/dev/null || true; } | sed "s|^$upper||"
}

# an upgrade in flight, made by hand: preflight creates current.json, as its unit line would
sb_log "preflight 1.5.0 by hand"
sb "$LIBEXEC/preflight" 1.5.0 >/dev/null 2>&1 || fail "preflight 1.5.0 by hand failed"

# 1. the install root and releases/ must be root's and writable by no one else
sb chown codebolt:codebolt /opt/codebolt/releases
out=$(stage_by_hand) && fail "stage went on in a releases/ owned by the server's user: $out"
grep -qF "chown root:root /opt/codebolt/releases && chmod go-w /opt/codebolt/releases" <<<"$out" ||
        fail "the refusal of a releases/ owned by codebolt does not name the fix: $out"
sb chown root:root /opt/codebolt/releases
sb chmod g+w /opt/codebolt
out=$(stage_by_hand) && fail "stage went on in a group-writable install root: $out"
grep -qF "/opt/codebolt ([Server] InstallRoot=) is owned by uid 0 with mode 0775" <<<"$out" ||
        fail "the refusal of a group-writable install root does not say why: $out"
sb chmod g-w /opt/codebolt
sb test ! -e "$STAGING" || fail "a refused stage left $STAGING"

# the NpmConfig= file holds registry tokens and steers npm: like a hook, it must be root's alone
sb install -d -m 0755 /etc/codebolt-upgrade/upgrade.conf.d
sb install -m 0600 -o codebolt -g codebolt /dev/null /etc/codebolt-upgrade/npmrc-of-codebolt
sb sh -c 'printf "[Server]\nNpmConfig=/etc/codebolt-upgrade/npmrc-of-codebolt\n" >/etc/codebolt-upgrade/upgrade.conf.d/50-npmrc.conf'
out=$(stage_by_hand) && fail "stage used an NpmConfig= file the server's user owns: $out"
grep -qF "Cannot use the npm config /etc/codebolt-upgrade/npmrc-of-codebolt ([Server] NpmConfig=)" <<<"$out" ||
        fail "the refusal of an NpmConfig= file owned by codebolt does not name it: $out"
sb rm /etc/codebolt-upgrade/upgrade.conf.d/50-npmrc.conf

# 2. the race. npm is pointed at a registry path that answers 404, so it fails at once, and the
# NpmConfig= file holds a registry token: each try creates the staging tree, npm's HOME and the
# token's copy in it.
sb sh -c 'umask 077; printf "//127.0.0.1:4873/:_authToken=race-token-0123456789\n" >/etc/codebolt-upgrade/npmrc'
sb sh -c "printf '[Server]\nNpmConfig=/etc/codebolt-upgrade/npmrc\nRegistry=http://127.0.0.1:$CBU_REGISTRY_PORT/no-such-registry/\n' >/etc/codebolt-upgrade/upgrade.conf.d/50-race.conf"
# root's own npm config, if this machine has one, would stop the write it aims at (O_EXCL): the
# sandbox's /root is as on a server that has none
sb rm -f /root/.npmrc
sb touch /var/tmp/race-marker
sleep 1.1 # every write below is newer than the marker, at a coarse timestamp granularity too

# the attacker, as the server's user: it exchanges npm's HOME with a link to /root, over and over, so
# that root may find a directory when it makes and opens HOME and the link when it writes the token's
# copy into it, from the moment HOME exists or, every other try, once root has handed it over
# (lib/race-swap.c); it counts its exchanges, so the test knows it really raced
sb systemd-run --quiet --unit=race-swapper --uid=codebolt --gid=codebolt --property=Type=exec \
        "$CBU_BUILD_DIR/tests/integration/race-swap" "$STAGING" .home /root /tmp/race-count

sb_log "$TRIES tries of stage while the server's user swaps $STAGING/.home for a link to /root"
for i in $(seq "$TRIES"); do
        out=$(stage_by_hand) && fail "stage succeeded from a registry that has nothing (try $i): $out"
        changed=$(written_since /var/tmp/race-marker /root)
        [ -z "$changed" ] ||
                fail "try $i: root wrote under /root through the server user's link: $changed $(sb ls -la /root/.npmrc 2>&1)"
done
sb touch /tmp/race-count.stop
for i in $(seq 50); do sb test -s /tmp/race-count && break; sleep 0.2; done
read -r swaps polls < <(sb cat /tmp/race-count) || fail "the swapper left no count"
for i in $(seq 50); do [ "$(sb systemctl show -P ActiveState race-swapper.service)" != active ] && break; sleep 0.2; done
[ "$(sb systemctl show -P Result race-swapper.service)" = success ] || fail "the swapper did not end cleanly"
sb_log "the swapper swapped .home $swaps times in $polls polls"
[ "$swaps" -ge "$TRIES" ] || fail "the swapper swapped only $swaps times in $TRIES tries: it did not race"

# nothing outside the staging tree changed; what an upgrade in flight writes is listed
changed=$(written_since /var/tmp/race-marker | grep -vxE "$STAGING(/.*)?|/opt/codebolt/releases|/var/lib/codebolt-upgrade/default(/current.json)?|/var/log/journal(/.*)?|/var/lib/(postgresql|codebolt|systemd)(/.*)?|/var/tmp(/race-marker)?|/var|/var/lib|/opt|/opt/codebolt" || true)
[ -z "$changed" ] || fail "files outside the staging tree changed during the race: $changed"
# the token's copies are in the staging tree (where the racer moved npm's HOME), and nowhere else
leaked=$(sb grep -rlsF --exclude-dir="$(basename "$STAGING")" race-token /etc/codebolt-upgrade/upgrade.conf.d \
        /var/lib/codebolt-upgrade /opt/codebolt || true)
[ -z "$leaked" ] || fail "the registry token of the race was found outside its file and the staging tree: $leaked"
# (the last try may leave $STAGING behind: the racer keeps adding to it while root removes it; it is
# the user's own tree, and the next stage removes it first)
sb rm /etc/codebolt-upgrade/upgrade.conf.d/50-race.conf

# 3. a real stage records what it verified; a package added since makes the release not count
sb_log "stage 1.5.0 by hand, then plant a package in it"
out=$(stage_by_hand) || fail "stage 1.5.0 failed: $out"
sb test -s /var/lib/codebolt-upgrade/default/staged-1.5.0.json || fail "the stage left no record of what it verified"
out=$(stage_by_hand) || fail "a second stage of the same release failed: $out"
grep -qF "staged earlier and checked against that stage's record" <<<"$out" ||
        fail "the second stage did not reuse the release: $out"
sb runuser -u codebolt -- sh -c 'mkdir /opt/codebolt/releases/1.5.0/lib/node_modules/planted &&
        echo "{\"name\":\"planted\",\"version\":\"6.6.6\"}" >/opt/codebolt/releases/1.5.0/lib/node_modules/planted/package.json'
out=$(stage_by_hand) && fail "a release with a planted package counted as staged earlier: $out"
grep -qF "lib/node_modules/planted holds planted@6.6.6, which its stage did not install" <<<"$out" ||
        fail "the refusal does not name the planted package: $out"
sb rm -rf /opt/codebolt/releases/1.5.0/lib/node_modules/planted

# the upgrade made by hand ends as its unit would: its rollback (nothing stopped yet: aborted)
sb systemctl start codebolt-rollback@1.5.0.service
result=$(cbu_wait_rollback 1.5.0 0) || fail "the rollback of the upgrade made by hand did not end: $result"
[ "$result" = aborted ] || fail "the upgrade made by hand ended '$result', not aborted"
sb test ! -e /var/lib/codebolt-upgrade/default/current.json || fail "current.json was left behind"
cbu_observe stage-race 1.4.0 1.5.0

# 4. a release put in place by other means than a stage, the way the guide's operator installs one
sb rm -rf /opt/codebolt/releases/1.5.0
sb install -d -o codebolt -g codebolt -m 0755 /opt/codebolt/releases/1.5.0
sb runuser -u codebolt -- env HOME=/tmp/npm-home npm install -g --no-audit --no-fund --loglevel=warn \
        --prefix /opt/codebolt/releases/1.5.0 --registry "http://127.0.0.1:$CBU_REGISTRY_PORT/" \
        "@codebolt/server@1.5.0" >/dev/null
sb_log "systemctl start codebolt-upgrade@1.5.0 with a release put in place by hand"
sb systemctl start codebolt-upgrade@1.5.0.service 2>/dev/null && fail "the upgrade used a release it did not stage"
result=$(cbu_wait_rollback 1.5.0 1) || fail "the rollback did not end: $result"
[ "$result" = aborted ] || fail "the upgrade with a planted release ended '$result', not aborted"
out=$(cbu_invocation_journal codebolt-upgrade@1.5.0.service)
grep -qF "/opt/codebolt/releases/1.5.0 exists, but it does not count as staged: it is not the directory that codebolt-upgrade staged" <<<"$out" ||
        fail "the refusal does not say the release was not staged: $out"
[ "$(sb systemctl show -P InvocationID codebolt.service)" = "$server_id" ] || fail "the server was restarted"
sb test -d /opt/codebolt/releases/1.5.0 || fail "the rollback removed a release that was not the upgrade's"
cbu_observe stage-planted 1.4.0 1.5.0

# and with it gone, the upgrade stages its own and succeeds
sb rm -rf /opt/codebolt/releases/1.5.0
sb_log "systemctl start codebolt-upgrade@1.5.0"
sb systemctl start codebolt-upgrade@1.5.0.service || fail "the upgrade to 1.5.0 failed"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "/health does not report 1.5.0"
[ "$(cbu_ledger_for 1.5.0 | jq -r 'last | .result')" = succeeded ] || fail "the ledger does not say succeeded"
sb_log "ok"
