#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every secret codebolt-upgrade handles is set, each a long random value: the smoke-test password, the
# database password (over TCP, where PostgreSQL asks for it), the webhook token and an npm registry
# token. A full upgrade 1.4.0 → 1.5.0 and a full restore (1.5.1's migration fails) run while a sampler
# reads every process's argv and environment in the sandbox every 50 ms. Then the journal (every
# field), the state (ledger, its public export, each version of current.json), the backups and every
# file under /run and /tmp are searched: no secret may be in any of them. Last, a secret is planted in
# each of those places, and the same checks must report each one, so they are shown able to fail.
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

TEST_DIR=/var/lib/cbu-test
# "LABEL VALUE" per secret, on the host; the sandbox's copy is for the sampler. Alphanumeric values, so
# that JSON, URL or shell quoting of a leak leaves them as they are and grep -F still finds them.
SECRETS=$SB_DIR/secrets
secret() {
        printf '%s%s' "$1" "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
}
{
        echo "smoke-password $(secret SmokePw)"
        echo "db-password $(secret DbPw)"
        echo "webhook-token $(secret HookTok)"
        echo "npm-token $(secret NpmTok)"
        # the etcd password joins here once clusters land: a line "etcd-password VALUE", and the
        # [Cluster] credential set up below with the others
} >"$SECRETS"
value_of() {
        awk -v l="$1" '$1 == l {print $2}' "$SECRETS"
}
sb install -d -m 0700 "$TEST_DIR"
sb sh -c "umask 077; cat >$TEST_DIR/secrets" <"$SECRETS"

# each secret reaches its credential file through stdin, never an argv
put_credential() {
        value_of "$2" | sb sh -c "umask 077; tr -d '\n' >/etc/codebolt-upgrade/credentials/$1"
}

# the smoke-test user's password, as the server stores it (the stand-in keeps its SHA-256)
put_credential smoke-password smoke-password
hash=$(value_of smoke-password | tr -d '\n' | sha256sum | cut -d' ' -f1)
cbu_psql -c "UPDATE users SET password_hash = '$hash' WHERE username = 'smoke'" >/dev/null

# the database: the server's role gets a password and may create databases (the snapshot), and
# codebolt-upgrade connects as it over TCP, where pg_hba.conf asks for the password (scram-sha-256);
# OSUser= stays the default, so only the password can let it in
printf "ALTER ROLE codebolt CREATEDB PASSWORD '%s';\n" "$(value_of db-password)" |
        sb runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 >/dev/null
put_credential db-password db-password
if sb runuser -u postgres -- psql -X -w -d 'host=127.0.0.1 user=codebolt dbname=codebolt' -c 'SELECT 1' >/dev/null 2>&1; then
        fail "PostgreSQL lets codebolt in over TCP without a password: the run would not use PasswordCredential="
fi

# the webhook, with its bearer token
sb systemd-run --quiet --unit=codebolt-test-webhook --property=Type=exec \
        /usr/bin/node "$CBU_FIXTURES/webhook/receiver.js" --port 8089 --out /var/tmp/webhook.jsonl
cbu_wait_http http://127.0.0.1:8089/ 30 || fail "the webhook receiver did not answer"
put_credential webhook-token webhook-token

# an npm registry token in NpmConfig= (root's file; stage hands npm a copy in its own HOME)
printf '//127.0.0.1:%s/:_authToken=%s\n' "$CBU_REGISTRY_PORT" "$(value_of npm-token)" |
        sb sh -c 'umask 077; cat >/etc/codebolt-upgrade/npmrc'

sb tee -a /etc/codebolt-upgrade/upgrade.conf >/dev/null <<CONF
NpmConfig=/etc/codebolt-upgrade/npmrc

[Database]
Connection=host=127.0.0.1 user=codebolt

[Notify]
URL=http://127.0.0.1:8089/hook
CONF

# --- the checks: each prints one line per secret found, "LABEL: where", and fails when it found any ---

# check_procs OUTDIR: what the sampler writing to OUTDIR saw in a process's argv or environment
check_procs() {
        local hits
        hits=$(sb cat "$1/hits.jsonl") || {
                echo "procs: the sampler wrote no $1/hits.jsonl"
                return 1
        }
        [ -z "$hits" ] && return 0
        jq -r '"\(.label): procs: /proc/\(.pid)/\(.place) of \(.comm): \(.cmdline)"' <<<"$hits"
        return 1
}

# check_journal: every field of every entry of the sandbox's journal (-o export: not MESSAGE alone)
check_journal() {
        local export=$SB_DIR/journal.export label value out rc=0
        sb journalctl --sync
        sb journalctl -o export --no-pager >"$export"
        [ -s "$export" ] || {
                echo "journal: journalctl -o export printed nothing"
                return 1
        }
        while read -r label value; do
                # an entry is a paragraph of FIELD=value lines; name the field and whose entry it is
                out=$(SECRET=$value LC_ALL=C awk -v label="$label" '
                        BEGIN { RS = ""; FS = "\n" }
                        index($0, ENVIRON["SECRET"]) {
                                who = "?"; fields = ""
                                for (i = 1; i <= NF; i++) {
                                        if ($i ~ /^_SYSTEMD_UNIT=/) who = substr($i, 15)
                                        else if ($i ~ /^SYSLOG_IDENTIFIER=/ && who == "?") who = substr($i, 19)
                                        if (index($i, ENVIRON["SECRET"])) {
                                                f = index($i, "=") ? substr($i, 1, index($i, "=") - 1) : "(binary field)"
                                                fields = fields " " f
                                        }
                                }
                                print label ": journal: field" fields " of an entry of " who
                        }' "$export")
                if [ -n "$out" ]; then
                        echo "$out"
                        rc=1
                fi
        done <"$SECRETS"
        return $rc
}

# check_files WHAT PATH...: every file under each PATH of the sandbox, binary or text, that holds a
# secret (each PATH must exist: a check that looks nowhere finds nothing)
check_files() {
        local what=$1 root label value f p rc=0
        local -a paths=()
        shift
        root=$(sb_root)
        for p in "$@"; do
                if [ -e "$root$p" ]; then
                        paths+=("$root$p")
                else
                        echo "$what: $p does not exist"
                        rc=1
                fi
        done
        [ ${#paths[@]} -gt 0 ] || return 1
        while read -r label value; do
                while IFS= read -r f; do
                        echo "$label: $what: ${f#"$root"}"
                        rc=1
                done < <(printf '%s\n' "$value" | grep -rlF --devices=skip -f - "${paths[@]}" 2>/dev/null || true)
        done <"$SECRETS"
        return $rc
}

# check_all OUTDIR: every check, the processes as the sampler writing to OUTDIR saw them
check_all() {
        local rc=0
        check_procs "$1" || rc=1
        check_journal || rc=1
        # the state directory holds the ledger and (by default) its public export; OUTDIR/copies each
        # version of current.json, which is gone once the upgrade or the rollback ends
        check_files state /var/lib/codebolt-upgrade "$1/copies" || rc=1
        # every backup: the manifest, the dump, the stores' and the config's copies
        check_files backups /backups/codebolt || rc=1
        # nothing is excluded here: no unit of codebolt-upgrade uses LoadCredential=, so
        # /run/credentials/<unit>/ (systemd's own copy, the secret's place by design) holds none of ours;
        # a unit that adopts it must exclude exactly its directory
        check_files run /run || rc=1
        check_files tmp /tmp || rc=1
        return $rc
}

# sampler_start NAME / sampler_stop NAME: the sampler as a unit of its own, writing to $TEST_DIR/NAME
sampler_start() {
        sb systemd-run --quiet --unit="cbu-test-sampler-$1" --property=Type=exec /usr/bin/node \
                "$SB_LIB/proc-sampler.js" --copy "$CBU_STATE/current.json" "$TEST_DIR/secrets" "$TEST_DIR/$1"
        for _ in $(seq 50); do
                sb test -e "$TEST_DIR/$1/hits.jsonl" && return 0
                sleep 0.1
        done
        fail "the sampler did not start"
}
sampler_stop() {
        sb systemctl stop "cbu-test-sampler-$1.service"
        sb test -s "$TEST_DIR/$1/summary.json" || fail "the sampler wrote no summary"
}

# --- the real run: a full upgrade, then a full restore, sampled throughout ---

sampler_start run
started=$(date +%s)

sb_log "systemctl start codebolt-upgrade@1.5.0"
sb systemctl start codebolt-upgrade@1.5.0.service || fail "the upgrade to 1.5.0 failed"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "/health does not report 1.5.0 after the upgrade"

# 1.5.1 with Snapshot=dump: its snapshot is a pg_dump at the stop and its restore a pg_restore, so both
# client programs take the password in the restore too (1.5.0 made a template snapshot)
sb install -d /etc/codebolt-upgrade/upgrade.conf.d
printf '[Backup]\nSnapshot=dump\n' | sb tee /etc/codebolt-upgrade/upgrade.conf.d/50-snapshot.conf >/dev/null

sb_log "systemctl start codebolt-upgrade@1.5.1 (its migration fails: a full restore)"
sb systemctl start codebolt-upgrade@1.5.1.service 2>/dev/null && fail "the upgrade to 1.5.1 succeeded"
result=$(cbu_wait_rollback 1.5.1) || fail "the rollback of 1.5.1 did not end: $result"
[ "$result" = restored ] || fail "the rollback of 1.5.1 ended '$result', not restored"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "/health does not report 1.5.0 after the restore"

sampler_stop run
elapsed=$(($(date +%s) - started))

# every secret was really used: the smoke test logged in and the database let the upgrade in (both ran,
# or 1.5.0 would not run), and the webhook got its token
hooks=$(sb cat /var/tmp/webhook.jsonl 2>/dev/null) || fail "the webhook receiver recorded nothing"
jq -se --arg t "Bearer $(value_of webhook-token)" 'length > 0 and all(.headers.authorization == $t)' <<<"$hooks" \
        >/dev/null || fail "the webhook's requests did not all carry the token"

# the sampler really sampled, and saw the processes that handle the secrets
summary=$(sb cat "$TEST_DIR/run/summary.json")
sb_log "sampler: $(jq -c '{samples, pids, copies}' <<<"$summary") in ${elapsed}s"
jq -e --argjson min $((elapsed * 10)) '.samples >= $min and .pids >= 50 and .copies >= 2' <<<"$summary" >/dev/null ||
        fail "the sampler took too few samples, saw too few processes or no current.json: $summary"
for c in pg_dump pg_restore npm node backup snapshot rollback; do
        jq -e --arg c "$c" 'any(.comms[]; startswith($c))' <<<"$summary" >/dev/null ||
                fail "the sampler never saw a $c process: $(jq -c .comms <<<"$summary")"
done
for f in "$CBU_STATE/ledger.json" /var/lib/codebolt-upgrade/public/ledger.json; do
        sb test -s "$f" || fail "$f is missing: the state check would not look at it"
done
[ "$(sb sh -c 'ls /backups/codebolt/*/manifest.json' | wc -l)" -ge 2 ] ||
        fail "fewer than two backups with a manifest under /backups/codebolt"

if ! found=$(check_all "$TEST_DIR/run"); then
        fail "a secret leaked:
$found"
fi
sb_log "no secret in any argv, environment, journal field, state file, backup, /run or /tmp"

# --- a planted leak: each check must report the secret put where it looks ---

sampler_start planted
sb sh -c 'sleep 2; true' planted "$(value_of smoke-password)" &
argv_pid=$!
sb env "CBU_PLANTED=$(value_of db-password)" sleep 2 &
env_pid=$!
sb logger -t cbu-planted "$(value_of webhook-token)"
printf '{"planted":"%s"}\n' "$(value_of npm-token)" | sb sh -c "cat >$CBU_STATE/current.json"
for _ in $(seq 50); do
        [ "$(sb sh -c "ls $TEST_DIR/planted/copies | wc -l")" -ge 1 ] && break
        sleep 0.1
done
sb rm -f "$CBU_STATE/current.json"
value_of smoke-password | sb sh -c 'cat >>/var/lib/codebolt-upgrade/public/ledger.json'
# shellcheck disable=SC2016 # expanded by the sandbox's shell
value_of db-password | sb sh -c 'cat >>"$(ls -d /backups/codebolt/*/ | head -n1)manifest.json"'
value_of webhook-token | sb sh -c 'cat >/run/cbu-planted'
value_of npm-token | sb sh -c 'cat >/tmp/cbu-planted'
wait "$argv_pid" "$env_pid"
sampler_stop planted

found=$(check_all "$TEST_DIR/planted") && fail "the checks found none of the planted secrets"
for expected in \
        "smoke-password: procs: /proc/[0-9]+/cmdline of sh:" \
        "db-password: procs: /proc/[0-9]+/environ of sleep:" \
        "webhook-token: journal: field( [A-Z_]+)* MESSAGE( [A-Z_]+)* of an entry of cbu-planted" \
        "npm-token: state: $TEST_DIR/planted/copies/[0-9]+-current.json" \
        "smoke-password: state: /var/lib/codebolt-upgrade/public/ledger.json" \
        "db-password: backups: /backups/codebolt/[^ ]+/manifest.json" \
        "webhook-token: run: /run/cbu-planted" \
        "npm-token: tmp: /tmp/cbu-planted"; do
        grep -qE "^$expected" <<<"$found" || fail "the checks missed a planted leak ($expected); they reported:
$found"
done
sb_log "every planted secret was reported"
sb_log "PASS"
