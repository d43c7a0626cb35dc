#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `codebolt-upgrade upgrade` as an operator drives it: on a terminal (a tmux pane inside the sandbox, as
# an SSH session would be) and through a pipe (as CI or Ansible would run it). A restore on the terminal
# (1.5.1's migration fails), a refusal on both (1.5.1 is failed here now), a declined confirmation, the
# same restore again through a pipe, a success on the terminal watched mid-migration (1.5.6: each
# migration takes 8 s), then a success through a pipe detached by Ctrl-C and attached again with
# `codebolt-upgrade status --follow`. Each checks the exit code (0 upgraded, 1 back on the old version,
# 2 refused, 130 detached) and what the operator sees.
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

# tmux_run NAME COMMAND: COMMAND in a new 120×40 terminal; its exit code goes to /var/tmp/NAME.exit and the
# pane stays open after it, for the last capture
tmux_run() {
        sb rm -f "/var/tmp/$1.exit"
        sb tmux -u new-session -d -s "$1" -x 120 -y 40 \
                "$2; echo \$? >/var/tmp/$1.exit; sleep 3600" || fail "tmux could not start $1"
}
# tmux_capture NAME: the pane as the operator sees it now, with what scrolled off above it
tmux_capture() {
        sb tmux -u capture-pane -p -S - -t "$1"
}
# tmux_wait NAME TEXT SECONDS: until the pane shows TEXT; prints the capture that showed it
tmux_wait() {
        local screen
        for _ in $(seq $(($3 * 5))); do
                screen=$(tmux_capture "$1")
                if grep -qF -- "$2" <<<"$screen"; then
                        printf '%s\n' "$screen"
                        return 0
                fi
                sleep 0.2
        done
        fail "the terminal never showed '$2'; it shows:
$screen"
}
# tmux_exit NAME SECONDS: the command's exit code, once it ended
tmux_exit() {
        for _ in $(seq $(($2 * 5))); do
                if sb test -s "/var/tmp/$1.exit"; then
                        sb cat "/var/tmp/$1.exit"
                        return 0
                fi
                sleep 0.2
        done
        fail "$1 did not end within $2 s; the terminal shows:
$(tmux_capture "$1")"
}
# has TEXT WHAT WHERE: WHERE (a capture or a log) shows TEXT
has() {
        grep -qF -- "$1" <<<"$3" || fail "$2 does not show '$1':
$3"
}
invocation() {
        sb systemctl show -P InvocationID "codebolt-upgrade@$1.service"
}

# 1. a restore, on a terminal: 1.5.1's migration fails after 1.5.0's two; the rollback restores
sb_log "on a terminal: codebolt-upgrade upgrade 1.5.1 --yes (its migration fails)"
tmux_run restore 'codebolt-upgrade upgrade 1.5.1 --yes'
code=$(tmux_exit restore 240)
screen=$(tmux_capture restore)
sb_log "the terminal after the restore (exit $code):
$screen"
[ "$code" = 1 ] || fail "upgrade 1.5.1 exited $code after a restore, not 1"
has 'Upgrade 1.4.0 → 1.5.1' 'the plan' "$screen"
has 'Rolling back the upgrade 1.4.0 → 1.5.1' 'the block, redrawn for the rollback' "$screen"
has 'rolling back: the upgrade failed in phase 7 of 9, migrate' 'the block of the rollback' "$screen"
has 'Restored: the upgrade to 1.5.1 failed in phase migrate; 1.4.0 runs again' 'the result' "$screen"
has 'Why, from the journal:' 'the explanation' "$screen"
has '20260401_bad' 'the explanation (the failed migration)' "$screen"
has 'Next: journalctl -u codebolt-upgrade@1.5.1.service -u codebolt-rollback@1.5.1.service' 'what to run next' "$screen"
has 'codebolt-upgrade clear 1.5.1' 'what to run next' "$screen"
# redrawn in place: the header is on the screen once, not once a tick
[ "$(grep -cF 'Rolling back the upgrade 1.4.0 → 1.5.1' <<<"$screen")" = 1 ] ||
        fail "the block was not redrawn in place:
$screen"
[ "$(cbu_health_version)" = 1.4.0 ] || fail "1.4.0 does not run after the restore"
sb tmux kill-session -t restore

# 2. a refusal on a terminal and through a pipe: 1.5.1 failed here; nothing is started
before=$(invocation 1.5.1)
tmux_run refused 'codebolt-upgrade upgrade 1.5.1 --yes'
code=$(tmux_exit refused 60)
screen=$(tmux_capture refused)
[ "$code" = 2 ] || fail "upgrade 1.5.1 (failed here) exited $code on a terminal, not 2:
$screen"
has 'Refused:' 'the refusal on a terminal' "$screen"
has 'failed-here' 'the refusal (the gate)' "$screen"
sb tmux kill-session -t refused
# shellcheck disable=SC2016 # expanded by the sandbox's shell
code=$(sb bash -c 'codebolt-upgrade upgrade 1.5.1 --yes 2>&1 | cat >/var/tmp/refused.log; echo "${PIPESTATUS[0]}"')
out=$(sb cat /var/tmp/refused.log)
[ "$code" = 2 ] || fail "upgrade 1.5.1 (failed here) exited $code through a pipe, not 2"
has 'Refused:' 'the refusal through a pipe' "$out"
[ "$(invocation 1.5.1)" = "$before" ] || fail "a refused upgrade started codebolt-upgrade@1.5.1"

# 3. the confirmation, declined: nothing is started. Asked of the person at the terminal even with the
# output piped (the question on standard error)
tmux_run declined "bash -c 'set -o pipefail; codebolt-upgrade upgrade 1.5.6 | cat'"
tmux_wait declined 'Upgrade deployment default from 1.4.0 to 1.5.6 now? [y/N]' 60 >/dev/null
sb tmux send-keys -t declined n Enter
code=$(tmux_exit declined 30)
[ "$code" = 2 ] || fail "a declined upgrade exited $code, not 2"
has 'Nothing was done.' 'the declined upgrade' "$(tmux_capture declined)"
[ -z "$(invocation 1.5.6)" ] || fail "a declined upgrade started codebolt-upgrade@1.5.6"
sb tmux kill-session -t declined

# 4. the same restore through a pipe, once 1.5.1 is allowed again: time-stamped lines
sb codebolt-upgrade clear 1.5.1 >/dev/null || fail "codebolt-upgrade clear 1.5.1 failed"
sb_log "through a pipe: codebolt-upgrade upgrade 1.5.1 --yes | cat"
# shellcheck disable=SC2016 # expanded by the sandbox's shell
code=$(sb bash -c 'codebolt-upgrade upgrade 1.5.1 --yes 2>&1 | cat >/var/tmp/pipe.log; echo "${PIPESTATUS[0]}"')
out=$(sb cat /var/tmp/pipe.log)
sb_log "the pipe's lines (exit $code):
$out"
[ "$code" = 1 ] || fail "upgrade 1.5.1 through a pipe exited $code after a restore, not 1"
for want in 'phase 1 of 9: preflight' 'phase 7 of 9: migrate' 'the server is stopped: the downtime begins' \
        'migrations: 2 of 3 applied' 'migration 20260401_bad failed' \
        'the upgrade failed in phase migrate: the rollback runs' 'Restored: the upgrade to 1.5.1'; do
        has "$want" 'the pipe' "$out"
done
grep -qE '^[0-9]{2}:[0-9]{2}:[0-9]{2} phase 4 of 9: drain$' <<<"$out" || fail "the pipe's lines are not time-stamped:
$out"
grep -q $'\033' <<<"$out" && fail "the pipe got terminal escapes:
$out"

# 5. a success on a terminal, seen mid-migration
sb_log "on a terminal: codebolt-upgrade upgrade 1.5.6 --yes (8 s a migration)"
tmux_run success 'codebolt-upgrade upgrade 1.5.6 --yes'
mid=$(tmux_wait success 'applying 20260315_add_foo_index' 240)
sb_log "the terminal mid-migration:
$mid"
has 'phase 7 of 9: migrate' 'the block mid-migration' "$mid"
has '███████████████████░░░░░░░░  phase 7 of 9' 'the bar mid-migration (six phases done, the seventh running)' "$mid"
has 'migrations  0 of 2 applied; applying 20260315_add_foo_index' 'the block mid-migration' "$mid"
has 'the server is down for' 'the block mid-migration' "$mid"
code=$(tmux_exit success 240)
screen=$(tmux_capture success)
sb_log "the terminal after the success (exit $code):
$screen"
[ "$code" = 0 ] || fail "upgrade 1.5.6 exited $code after a success, not 0"
has 'Upgraded deployment default from 1.4.0 to 1.5.6' 'the result' "$screen"
has '███████████████████████████  phase 9 of 9: finish' 'the last block (every phase done)' "$screen"
has 'codebolt-upgrade rollback 1.5.6' 'what to run next' "$screen"
[ "$(cbu_health_version)" = 1.5.6 ] || fail "1.5.6 does not run after the success"
sb tmux kill-session -t success

# 6. Ctrl-C detaches and never stops the upgrade; status --follow attaches to it again
sb_log "through a pipe: codebolt-upgrade upgrade 1.6.0 --yes, Ctrl-C, then status --follow"
pid=$(sb bash -c 'codebolt-upgrade upgrade 1.6.0 --yes >/var/tmp/detach.log 2>&1 & echo $!')
for _ in $(seq 600); do
        sb grep -q 'phase 3 of 9: backup' /var/tmp/detach.log && break
        sleep 0.2
done
sb grep -q 'phase 3 of 9: backup' /var/tmp/detach.log || fail "upgrade 1.6.0 never reached its backup: $(sb cat /var/tmp/detach.log)"
sb kill -INT "$pid"
for _ in $(seq 50); do
        sb kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
done
sb kill -0 "$pid" 2>/dev/null && fail "Ctrl-C did not detach the follower"
has 'Detached: the upgrade goes on. codebolt-upgrade status --follow follows it again.' 'the detached follower' \
        "$(sb cat /var/tmp/detach.log)"
[ "$(sb systemctl show -P ActiveState codebolt-upgrade@1.6.0.service)" = activating ] ||
        fail "Ctrl-C stopped the upgrade: codebolt-upgrade@1.6.0 is $(sb systemctl show -P ActiveState codebolt-upgrade@1.6.0.service)"
# two attach at once: a person (lines) and a tool (--json, an object per change)
sb bash -c 'codebolt-upgrade status --follow --json >/var/tmp/attach.jsonl 2>&1; echo $? >/var/tmp/attach-json.exit' &
json_follower=$!
code=$(sb bash -c 'codebolt-upgrade status --follow >/var/tmp/attach.log 2>&1; echo $?')
out=$(sb cat /var/tmp/attach.log)
sb_log "status --follow (exit $code):
$out"
[ "$code" = 0 ] || fail "status --follow exited $code for a success, not 0"
has 'phase 9 of 9: finish' 'status --follow' "$out"
has 'Upgraded deployment default from 1.5.6 to 1.6.0' 'status --follow' "$out"
[ "$(cbu_health_version)" = 1.6.0 ] || fail "1.6.0 does not run after the attached upgrade"
wait "$json_follower"
[ "$(sb cat /var/tmp/attach-json.exit)" = 0 ] || fail "status --follow --json exited $(sb cat /var/tmp/attach-json.exit): $(sb cat /var/tmp/attach.jsonl)"
jq -e -s 'length > 2 and any(.phase == "migrate") and (last | .exit == 0 and .result.result == "succeeded")' \
        <<<"$(sb cat /var/tmp/attach.jsonl)" >/dev/null ||
        fail "status --follow --json did not print an object per change and the result: $(sb cat /var/tmp/attach.jsonl)"
sb_log "PASS"
