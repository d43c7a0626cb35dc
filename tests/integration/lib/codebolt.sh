# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# codebolt.sh: inside a booted sandbox, lay out a Codebolt deployment the way an operator has one:
# the local registry, PostgreSQL with a seeded database, the stores, the server unit, codebolt-upgrade
# installed from the build. Sourced after sandbox.sh.

CBU_BUILD_DIR=${CBU_BUILD_DIR:?CBU_BUILD_DIR must name the meson build directory}
CBU_TARBALLS=${CBU_TARBALLS:-$CBU_BUILD_DIR/tests/integration/standin-tarballs}
CBU_REGISTRY_PORT=4873
CBU_PORT=3456
CBU_FIXTURES=$SB_SRC/tests/fixtures

# install the build into the sandbox exactly as `meson install` would on a host
cbu_install() {
        sb meson install -C "$CBU_BUILD_DIR" --no-rebuild --quiet >/dev/null
        cbu_allow_sanitizers
        # what systemd's dpkg trigger does for a package
        sb journalctl --update-catalog
        sb systemctl daemon-reload
}

# A sanitizer build's LeakSanitizer stops the process's threads with ptrace(2) at exit, which the units'
# system call filters refuse (SIGSYS or EPERM, and the helper exits 1): in the sandbox every
# codebolt-upgrade service gets the @debug calls back. Only there; the units as shipped keep the filter.
cbu_allow_sanitizers() {
        local d
        meson introspect --buildoptions "$CBU_BUILD_DIR" |
                jq -e '.[] | select(.name == "b_sanitize") | .value | . != "none" and . != []' >/dev/null || return 0
        for d in codebolt-upgrade@.service.d codebolt-rollback@.service.d codebolt-upgrade-.service.d \
                codebolt-rollback-.service.d; do
                sb mkdir -p "/etc/systemd/system/$d"
                printf '[Service]\nSystemCallFilter=@debug\n' | sb tee "/etc/systemd/system/$d/50-sanitizers.conf" >/dev/null
        done
}

# the local npm registry serving the stand-in's tarballs on 127.0.0.1 inside the sandbox
cbu_registry() {
        ls "$CBU_TARBALLS"/*.tgz >/dev/null 2>&1 || fail "no stand-in tarballs in $CBU_TARBALLS (the build packs them)"
        sb systemd-run --quiet --unit=codebolt-test-registry --property=Type=exec \
                /usr/bin/node "$CBU_FIXTURES/registry/registry.js" --dir "$CBU_TARBALLS" \
                --host 127.0.0.1 --port "$CBU_REGISTRY_PORT"
        cbu_wait_http "http://127.0.0.1:$CBU_REGISTRY_PORT/@codebolt%2fserver" 30 ||
                fail "the local registry did not answer"
}

# cbu_wait_http URL SECONDS: until URL answers 2xx
cbu_wait_http() {
        local _
        for _ in $(seq $(($2 * 5))); do
                sb curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
                sleep 0.2
        done
        return 1
}

# cbu_psql ARGS: psql on the default deployment's database (CBU_DB= names another)
cbu_psql() {
        sb runuser -u codebolt -- psql -X -q -A -t -v ON_ERROR_STOP=1 -d "${CBU_DB:-codebolt}" "$@"
}

# cbu_server_unit DESCRIPTION AFTER ROOT ENVIRONMENT...: prints the unit of a Codebolt server as the
# guide has it: ROOT/current/bin/codebolt-server run as codebolt after the units AFTER, one Environment=
# line for each ENVIRONMENT
cbu_server_unit() {
        local description=$1 after=$2 root=$3
        shift 3
        cat <<UNIT
[Unit]
Description=$description
After=$after

[Service]
Type=exec
User=codebolt
$(printf 'Environment=%s\n' "$@")
ExecStart=$root/current/bin/codebolt-server
Restart=on-failure
RestartSec=2
KillMode=mixed
TimeoutStopSec=300

[Install]
WantedBy=multi-user.target
UNIT
}

# cbu_deploy VERSION [NAME PORT]: a running Codebolt VERSION with seeded data, as the guide's operator
# has it. With NAME, a second deployment beside the default one (docs/architecture.md, "Configuration"; deploy the default first):
# server unit codebolt-NAME.service on PORT, database codebolt_NAME, stores under /var/lib/codebolt-NAME,
# releases under /opt/codebolt-NAME, backups in /backups/codebolt-NAME, ledger exported to
# /var/lib/codebolt-upgrade/public/NAME-ledger.json, all named in /etc/codebolt-upgrade/deployments/NAME.conf.
cbu_deploy() {
        local version=$1 name=${2:-} port=${3:-$CBU_PORT}
        local suffix=${name:+-$name} db=codebolt${name:+_$name}
        local unit=codebolt$suffix.service data=/var/lib/codebolt$suffix root=/opt/codebolt$suffix \
                etc=/etc/codebolt$suffix
        sb sh -c 'id -u codebolt >/dev/null 2>&1 || useradd --system --home-dir /var/lib/codebolt --shell /usr/sbin/nologin codebolt'
        sb runuser -u postgres -- psql -X -q -c "CREATE ROLE codebolt LOGIN" 2>/dev/null || true
        sb runuser -u postgres -- createdb -O codebolt "$db"

        # the stores: a few git repositories in shadow-git, files in the others
        local s
        for s in shadow-git vectordb kg capabilities; do
                sb install -d -o codebolt -g codebolt -m 0750 "$data/$s"
        done
        for s in alpha beta gamma; do
                sb runuser -u codebolt -- git -c init.defaultBranch=main init -q "$data/shadow-git/$s"
                sb runuser -u codebolt -- sh -c "cd $data/shadow-git/$s && echo '# $s' >README.md && git add README.md && git -c user.name=seed -c user.email=seed@localhost commit -qm 'seed $s'"
        done
        sb runuser -u codebolt -- sh -c "head -c 65536 /dev/urandom >$data/vectordb/index.bin; echo '{\"nodes\":3}' >$data/kg/graph.json; echo '[]' >$data/capabilities/installed.json"
        sb install -d -m 0755 "$etc"
        sb sh -c "printf 'port: $port\ndatabase: $db\n' >$etc/codebolt-server.yaml; echo mk-2026-0001 >$etc/master-key-id"

        # the release layout this project manages: <root>/releases/<version>, <root>/current
        sb install -d -m 0755 "$root/releases"
        sb install -d -o codebolt -g codebolt -m 0755 "$root/releases/$version"
        sb runuser -u codebolt -- env HOME=/tmp/npm-home npm install -g --no-audit --no-fund --loglevel=warn \
                --prefix "$root/releases/$version" --registry "http://127.0.0.1:$CBU_REGISTRY_PORT/" \
                "@codebolt/server@$version" >/dev/null
        sb ln -sfn "releases/$version" "$root/current"

        cbu_server_unit "Codebolt server${name:+ ($name)}" "network.target postgresql.service" "$root" \
                "CODEBOLT_PORT=$port CODEBOLT_DB=$db CODEBOLT_DATA=$data CODEBOLT_RUN_SECONDS=${CBU_RUN_SECONDS:-3}" |
                sb tee "/etc/systemd/system/$unit" >/dev/null

        if [ -z "$name" ]; then
                # codebolt-upgrade's own configuration: the local registry, the smoke-test password
                sb install -d -m 0755 /etc/codebolt-upgrade
                sb tee /etc/codebolt-upgrade/upgrade.conf >/dev/null <<CONF
[Server]
Registry=http://127.0.0.1:$CBU_REGISTRY_PORT/
CONF
                sb install -d -m 0700 /etc/codebolt-upgrade/credentials
                sb sh -c 'umask 077; printf smoke-secret >/etc/codebolt-upgrade/credentials/smoke-password'
        else
                # everything that differs from the default deployment; the rest comes from upgrade.conf
                sb install -d -m 0755 /etc/codebolt-upgrade/deployments
                sb tee "/etc/codebolt-upgrade/deployments/$name.conf" >/dev/null <<CONF
[Server]
Unit=$unit
Port=$port
InstallRoot=$root

[Database]
Name=$db

[Storage]
Paths=
Paths=$data/shadow-git $data/vectordb $data/kg $data/capabilities
Config=$etc/codebolt-server.yaml
MasterKeyId=$etc/master-key-id

[Backup]
Directory=/backups/codebolt$suffix

[Policy]
ExportLedger=/var/lib/codebolt-upgrade/public/$name-ledger.json
CONF
        fi

        sb systemctl daemon-reload
        sb systemctl enable --quiet "$unit"
        sb systemctl start "$unit"
        cbu_wait_http "http://127.0.0.1:$port/health" 60 || fail "Codebolt $version${name:+ ($name)} did not become healthy"
        CBU_DB=$db cbu_psql -f "$CBU_FIXTURES/seed.sql" >/dev/null
        sb_log "Codebolt $version${name:+ (deployment $name, port $port)} is running with seeded data"
}

# cbu_scribble_stores VERSION: what a failed release may do to the stores as it starts — add, change and
# remove files, commit to a shadow-git repository — done by a drop-in of codebolt.service whenever
# /opt/codebolt/current is VERSION. A full restore must undo all of it (kg/junk.json must go).
cbu_scribble_stores() {
        sb install -d /etc/systemd/system/codebolt.service.d
        sb tee /etc/systemd/system/codebolt.service.d/scribble.conf >/dev/null <<DROPIN
[Service]
ExecStartPre=/bin/sh -c 'case "\$(readlink /opt/codebolt/current)" in *$1) \\
        echo junk >/var/lib/codebolt/kg/junk.json; echo changed >>/var/lib/codebolt/kg/graph.json; \\
        rm -f /var/lib/codebolt/capabilities/installed.json; \\
        git -C /var/lib/codebolt/shadow-git/alpha -c user.name=x -c user.email=x@localhost commit -q --allow-empty -m scribble;; esac'
DROPIN
        sb systemctl daemon-reload
}

# cbu_starts_within SECONDS PATTERN: wait SECONDS and print how many lines of codebolt.service's journal
# matching PATTERN (a server's "starting" line) came in that time: after a hold, Restart= must not bring
# a server back in a loop
cbu_starts_within() {
        local cursor server
        # a journal that cannot be read would count no start: fail instead (the caller checks $?)
        cursor=$(sb_cursor) || { echo "cannot read the journal's cursor" >&2; return 1; }
        sleep "$1"
        server=$(sb_journal_since "$cursor" -u codebolt.service) ||
                { echo "cannot read codebolt.service's journal" >&2; return 1; }
        grep -c "$2" <<<"$server" || true
}

# cbu_health_version: the version /health reports
cbu_health_version() {
        sb curl -fsS --max-time 5 "http://127.0.0.1:$CBU_PORT/health" | jq -r .version
}

# the smoke user's bearer token
cbu_token() {
        sb curl -fsS --max-time 5 -H 'Content-Type: application/json' \
                -d '{"username":"smoke","password":"smoke-secret"}' \
                "http://127.0.0.1:$CBU_PORT/api/auth/login" | jq -r .token
}

# cbu_api TOKEN METHOD PATH [JSON]
cbu_api() {
        local token=$1 method=$2 path=$3 body=${4:-}
        if [ -n "$body" ]; then
                sb curl -fsS --max-time 10 -X "$method" -H "Authorization: Bearer $token" \
                        -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$CBU_PORT$path"
        else
                sb curl -fsS --max-time 10 -X "$method" -H "Authorization: Bearer $token" "http://127.0.0.1:$CBU_PORT$path"
        fi
}

# a "table:rows" line per table, for comparing before and after
cbu_row_counts() {
        cbu_psql -c "SELECT 'users:' || count(*) FROM users UNION ALL SELECT 'projects:' || count(*) FROM projects UNION ALL SELECT 'history:' || count(*) FROM history UNION ALL SELECT 'memory:' || count(*) FROM memory"
}

# --- the outcomes of a failed upgrade: new, old, held ---

CBU_STATE=/var/lib/codebolt-upgrade/default

# cbu_history_max: the highest history id now. Each smoke test adds a history row (the smoke-test
# agent's), so "the rows as before" means the rows up to this id, plus nothing but smoke-test rows.
cbu_history_max() {
        cbu_psql -c 'SELECT coalesce(max(id), 0) FROM history'
}

# cbu_table_digests [HISTORY_MAX]: "table:md5" per seeded table, an ordered checksum of every row (of
# history, only the rows up to HISTORY_MAX)
cbu_table_digests() {
        local t where
        for t in users projects history memory; do
                where=
                [ "$t" = history ] && [ -n "${1:-}" ] && where=" WHERE id <= $1"
                echo "$t:$(cbu_psql -c "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM $t t$where")"
        done
}

# cbu_extra_history HISTORY_MAX: history rows after HISTORY_MAX that no smoke test wrote (none expected)
cbu_extra_history() {
        cbu_psql -c "SELECT string_agg(id || ' ' || entry, '; ' ORDER BY id) FROM history
                     WHERE id > $1 AND entry NOT LIKE 'agent smoke-test run % succeeded'"
}

# cbu_stores_match_manifest BACKUP: every live store is byte-identical to what BACKUP's manifest lists
# (files.sha256 names the copy of /var/lib/codebolt/kg/graph.json stores/var/lib/codebolt/kg/graph.json,
# so the live file is the key without "stores"), and holds nothing else: the same entries, types,
# owners and modes as the backup's copy of it. Prints what differs.
cbu_stores_match_manifest() {
        # shellcheck disable=SC2016 # the script runs in the sandbox's shell, which expands it
        sb sh -c '
                m=$1/manifest.json
                sed -n "s|^\([0-9a-f]\{64\}\)  stores/|\1  /|p" "$1/files.sha256" >/tmp/cbu-live.sha256 || exit 1
                [ -s /tmp/cbu-live.sha256 ] || { echo "$m lists no store files"; exit 1; }
                cd / && sha256sum --check --strict --quiet /tmp/cbu-live.sha256 || exit 1
                for s in $(jq -r ".stores[]" "$m"); do
                        (cd "$s" && find . -mindepth 1 -printf "%y %u:%g %m %p\n" | sort) >/tmp/cbu-live.list || exit 1
                        (cd "$1/stores$s" && find . -mindepth 1 -printf "%y %u:%g %m %p\n" | sort) >/tmp/cbu-copy.list || exit 1
                        diff -U0 --label "backup copy of $s" --label "live $s" /tmp/cbu-copy.list /tmp/cbu-live.list || exit 1
                done' sh "$1" 2>&1
}

# cbu_git_fsck: git fsck --strict --full is clean on every shadow-git repository (as the server's
# user, who owns them). Prints the complaints.
cbu_git_fsck() {
        local repos repo out rc=0
        repos=$(sb find /var/lib/codebolt/shadow-git -mindepth 1 -maxdepth 1 -type d)
        [ -n "$repos" ] || { echo "no repository in /var/lib/codebolt/shadow-git"; return 1; }
        for repo in $repos; do
                out=$(sb runuser -u codebolt -- git -C "$repo" fsck --strict --full 2>&1) || {
                        echo "$repo: $out"
                        rc=1
                }
        done
        return $rc
}

# cbu_ledger_for VERSION: the ledger's entries for VERSION, as a JSON array
cbu_ledger_for() {
        local ledger
        ledger=$(sb cat "$CBU_STATE/ledger.json" 2>/dev/null) || ledger='[]'
        jq -c --arg v "$1" '[.[] | select(.to == $v)]' <<<"$ledger"
}

# cbu_wait_rollback VERSION [ENTRIES]: wait until codebolt-rollback@VERSION.service is no longer
# activating and the ledger holds more than ENTRIES (default 0) entries for VERSION; print the last
# one's result. VERSION as in the unit name, unescaped.
cbu_wait_rollback() {
        local v=$1 seen=${2:-0} state entries
        for _ in $(seq 600); do
                state=$(sb systemctl show -P ActiveState "codebolt-rollback@$v.service")
                entries=$(cbu_ledger_for "$v")
                if [ "$state" != activating ] && [ "$state" != deactivating ] &&
                        [ "$(jq length <<<"$entries")" -gt "$seen" ]; then
                        # what the rollback logged is in the journal's files before anyone reads them
                        sb journalctl --sync
                        jq -r 'last | .result' <<<"$entries"
                        return 0
                fi
                sleep 0.5
        done
        echo "timeout (codebolt-rollback@$v.service $state)"
        return 1
}

# cbu_invocation_journal UNIT: the messages of UNIT's last invocation
cbu_invocation_journal() {
        sb journalctl --sync
        sb journalctl -b --no-pager -o cat _SYSTEMD_INVOCATION_ID="$(sb systemctl show -P InvocationID "$1")"
}

# cbu_expect_old FROM TO RESULT DIGESTS HISTORY_MAX: the outcome "old" after the failed upgrade FROM → TO:
# the server runs FROM (/health, /opt/codebolt/current, the pin), every seeded table's rows are as in
# DIGESTS (cbu_table_digests HISTORY_MAX taken before the upgrade) with no rows added but the smoke
# tests', every store is byte-identical to the backup's manifest, git fsck is clean, the ledger's last
# entry for TO says RESULT, and no upgrade is left in flight.
cbu_expect_old() {
        local from=$1 to=$2 result=$3 digests=$4 hmax=$5 entry backup out
        [ "$(cbu_health_version)" = "$from" ] || fail "/health does not report $from after the rollback of $to"
        [ "$(sb readlink -f /opt/codebolt/current)" = "/opt/codebolt/releases/$from" ] ||
                fail "/opt/codebolt/current points at $(sb readlink -f /opt/codebolt/current), not $from"
        [ "$(sb cat "$CBU_STATE/pin")" = "$from" ] || fail "the pin says $(sb cat "$CBU_STATE/pin"), not $from"
        [ "$(sb systemctl is-active codebolt.service)" = active ] || fail "codebolt.service is not active"

        out=$(cbu_table_digests "$hmax")
        [ "$out" = "$digests" ] || fail "the seeded tables' rows differ after the rollback of $to:
before: $(tr '\n' ' ' <<<"$digests")
after:  $(tr '\n' ' ' <<<"$out")"
        out=$(cbu_extra_history "$hmax")
        [ -z "$out" ] || fail "history has rows no smoke test wrote: $out"

        entry=$(cbu_ledger_for "$to" | jq -c last)
        jq -e --arg f "$from" --arg r "$result" '.result == $r and .from == $f' <<<"$entry" >/dev/null ||
                fail "the ledger's last entry for $to is not '$result' from $from: $entry"
        backup=$(jq -r .backup <<<"$entry")
        sb test -f "$backup/manifest.json" || fail "the backup '$backup' the ledger names has no manifest"
        out=$(cbu_stores_match_manifest "$backup") || fail "the stores differ from the backup's manifest: $out"
        out=$(cbu_git_fsck) || fail "git fsck: $out"
        sb test ! -e "$CBU_STATE/current.json" || fail "current.json remains after the rollback of $to"
}

# cbu_observe CELL FROM TO: print the outcome of the upgrade FROM → TO as the sandbox shows it now, for
# the matrix cell CELL (see `observed` in sandbox.sh): "new" when /health reports TO, "held" when the
# ledger says the upgrade is held and the server does not answer as TO (stopped or on the old version, as
# the matrix defines held), "old" when it reports FROM, "held" otherwise; then the ledger's last result
# for TO in parentheses
cbu_observe() {
        local cell=$1 from=$2 to=$3 version outcome result
        version=$(cbu_health_version 2>/dev/null) || version=
        result=$(cbu_ledger_for "$to" | jq -r 'last | .result // "no ledger entry"')
        if [ "$version" = "$to" ]; then
                outcome=new
        elif [ "$version" = "$from" ] && [ "$result" != held ]; then
                outcome=old
        else
                outcome=held
        fi
        observed "$cell" "$outcome ($result)"
}

# --- the post-upgrade watch ---

# cbu_traffic [PORT]: steady agent runs against the server on PORT (a run a second, each taking
# CODEBOLT_RUN_SECONDS), through upgrades and restarts, as a transient unit (gone after a reboot)
cbu_traffic() {
        local port=${1:-$CBU_PORT}
        sb systemd-run --quiet --unit="codebolt-test-traffic-$port" --property=Type=exec \
                /usr/bin/node "$CBU_FIXTURES/traffic/traffic.js" --port "$port" --every 1
}

# cbu_watch_conf PERIOD INTERVAL [MORE...]: a short watch for the default deployment ([Watch] lines in
# upgrade.conf.d, MORE as further Key=value lines), then daemon-reload for the generator's timer drop-in
cbu_watch_conf() {
        local period=$1 interval=$2 line
        shift 2
        sb install -d /etc/codebolt-upgrade/upgrade.conf.d
        {
                printf '[Watch]\nPeriod=%s\nInterval=%s\n' "$period" "$interval"
                for line in "$@"; do printf '%s\n' "$line"; done
        } | sb tee /etc/codebolt-upgrade/upgrade.conf.d/50-watch.conf >/dev/null
        sb systemctl daemon-reload
}

# cbu_wait_degraded SIGNAL SECONDS: until the default deployment's watch.json has SIGNAL degraded; prints
# the watch's sample count then, and the time of that sample into the watch in seconds
cbu_wait_degraded() {
        local w
        for _ in $(seq $(($2 * 2))); do
                w=$(sb cat "$CBU_STATE/watch.json" 2>/dev/null) || w='{}'
                if jq -e --arg s "$1" '.degraded[$s]' <<<"$w" >/dev/null 2>&1; then
                        jq -r '"\(.samples | length) \(.samples | last | .t | floor)"' <<<"$w"
                        return 0
                fi
                sleep 0.5
        done
        echo "not degraded: $(jq -c '{state, elapsed, degraded, samples: (.samples | length)}' <<<"$w")"
        return 1
}
