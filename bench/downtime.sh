#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# downtime.sh [--small] [--trials N] [--only PROC,...] [--growth] [--db-mb N] [--out FILE.md] [--json FILE.json]:
# how long the
# clients of one Codebolt server go without it, upgraded 1.4.0 → 1.5.0 by the guide's manual procedure, by
# the physical floor, and by codebolt-upgrade in each Snapshot= mode; and how long a minor rollback and
# the full restores (from the snapshot, the final dump, the dump and the delta) take. Every procedure runs
# on a fresh copy of one world, trial after trial in one run on one machine, so that the figures compare;
# docs/performance.md explains each figure.
#
# The world (one sandbox, its layers on disk, as the scenarios' sandbox but booted once): the stand-in
# padded to a package of about $PKG_MB MB in some 3,000 files, a database of about $DB_MB MB (history and
# memory rows; the 1.5.0 migration indexes history), stores of about $STORES_MB MB (git repositories of
# many objects, vectordb files). --small: 10 MB, 100 MB and 50 MB, for a quick run. --db-mb N: the database
# alone at N MB (more or fewer memory rows; the history the migration indexes stays as it is).
#
# --growth: first the same world with its database ten times as large (--small: 1 GB), for the floor,
# Snapshot=template and Snapshot=delta only, in a sandbox of its own; the report then says how each one's
# downtime grows with the database alone (the migrations' work stays the same).
#
# Every procedure is watched the same way: bench/probe.js asks /health every 20 ms inside the sandbox and
# logs every answer; the downtime is computed afterwards, from the first answer that is not 200 to the
# first 200 of the version the procedure ends on. The product's downtime is split by phase from its
# journal. Beside them, the raw yardsticks: pg_dump -Fc, a file copy of the database's directory,
# pg_restore, rsync of the stores; then every helper's peak memory, the generator with 50 deployments and
# the upgrade path search through 20,000 versions.
#
# Builds its own plain build (no sanitizers, -O2) in build-bench/ unless CBU_BUILD_DIR names one (made
# from another tree, say an earlier commit for a before-and-after: CBU_BENCH_COMMIT names it). Root.
# CBU_BENCH_KEEP=1 keeps the raw results (each trial's journal and probe log) in /var/tmp.
# Prints the report (markdown) on stdout; --out replaces the downtime section of its world (small or full)
# in FILE.md (the other benchmarks' and the other world's sections stay), --json writes the raw figures.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

small=false trials=5 only='' out_md='' out_json='' growth=false db_mb=''
while [ $# -gt 0 ]; do
        case $1 in
        --small) small=true; shift ;;
        --trials) trials=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --growth) growth=true; shift ;;
        --db-mb) db_mb=$2; shift 2 ;;
        --out) out_md=$(realpath -m "$2"); shift 2 ;;
        --json) out_json=$(realpath -m "$2"); shift 2 ;;
        *)
                echo "usage: downtime.sh [--small] [--trials N] [--only PROC,...] [--growth] [--db-mb N] [--out FILE.md] [--json FILE.json]" >&2
                exit 2
                ;;
        esac
done
[[ $trials =~ ^[1-9][0-9]*$ ]] || { echo "downtime.sh: --trials wants a number ≥ 1" >&2; exit 2; }
[ -z "$db_mb" ] || [[ $db_mb =~ ^[1-9][0-9]*$ ]] || { echo "downtime.sh: --db-mb wants a number of MB" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "downtime.sh needs root, like the integration scenarios (unshare, mounts)" >&2; exit 1; }

FROM=1.4.0 TO=1.5.0 FAILING=1.5.1
PROCEDURES=(guide floor template dump none delta minor-rollback restore-snapshot restore-dump restore-delta)
if $small; then
        PKG_MB=10 DB_MB=100 STORES_MB=50 HISTORY_ROWS=300000
else
        PKG_MB=50 DB_MB=1000 STORES_MB=500 HISTORY_ROWS=3000000
fi
DB_MB=${db_mb:-$DB_MB}
# the database grown alone, for --growth
GROWTH_DB_MB=$((DB_MB * 10))
if [ -n "$only" ]; then
        IFS=, read -ra PROCEDURES <<<"$only"
fi

# a plain build: the sanitizers of the test build make every helper several times slower
export CBU_BUILD_DIR=${CBU_BUILD_DIR:-$src/build-bench}
if [ ! -f "$CBU_BUILD_DIR/build.ninja" ]; then
        meson setup "$CBU_BUILD_DIR" "$src" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
                --buildtype=release -Db_sanitize=none >/dev/null
fi
ninja -C "$CBU_BUILD_DIR" >/dev/null
# the tree the build was made from, read as it is built: the source may move on while the benchmark runs
commit=$(git -C "$src" rev-parse --short HEAD)
dirty=$([ -z "$(git -C "$src" status --porcelain --untracked-files=no)" ] && echo false || echo true)

results=$(mktemp -d /var/tmp/cbu-downtime.XXXXXX)
if $growth; then
        # the other world first, in its own sandbox, from the same build
        sizes=()
        $small && sizes=(--small)
        "$0" "${sizes[@]}" --db-mb "$GROWTH_DB_MB" --trials "$trials" --only floor,template,delta \
                --json "$results/growth.json" >/dev/null || { rm -rf "$results"; exit 1; }
fi
# the padded stand-in, packed by the real npm as the build packs the plain one
export CBU_TARBALLS=$results/tarballs
CBU_STANDIN_PAD_MB=$PKG_MB bash "$src/tests/fixtures/standin/pack.sh" "$CBU_TARBALLS" "$FROM" "$TO" "$FAILING" >/dev/null

SB_NAME=downtime
SB_DISK=1
source "$src/tests/integration/lib/sandbox.sh"
source "$src/tests/integration/lib/codebolt.sh"
# the sandbox goes, the results stay for a look when the report could not be written
sandbox_teardown_keep() {
        local rc=$1
        set +e
        if [ "$rc" = 0 ] && [ -z "${CBU_BENCH_KEEP:-}" ]; then
                rm -rf "$results"
        else
                echo "downtime.sh: the raw results (each trial's journal and probe log) stay in $results" >&2
        fi
        (exit "$rc")
        sandbox_teardown
}

# psql_admin SQL...: as postgres, on the cluster's maintenance database
psql_admin() {
        sb runuser -u postgres -- psql -X -q -A -t -v ON_ERROR_STOP=1 -d postgres "$@"
}

# world_build: the deployment of the guide, grown to the benchmark's size, then kept as the pristine copy
# every trial starts from (the database bench_world, the stores under /var/lib/bench-world)
world_build() {
        local t0 mb_rows
        t0=$(date +%s)
        # Snapshot=delta needs logical decoding: the operator's step (README), done here for every
        # procedure alike (the WAL it writes is a little larger)
        sb runuser -u postgres -- psql -X -q -c "ALTER SYSTEM SET wal_level = logical"
        sb systemctl restart postgresql@15-main.service
        cbu_install
        cbu_registry
        cbu_deploy "$FROM"
        # every helper's peak memory in the journal (helper.c, log_peak_memory)
        local d
        for d in codebolt-upgrade@.service.d codebolt-rollback@.service.d; do
                sb mkdir -p "/etc/systemd/system/$d"
                printf '[Service]\nEnvironment=CODEBOLT_UPGRADE_LOG_LEVEL=debug\n' |
                        sb tee "/etc/systemd/system/$d/50-bench.conf" >/dev/null
        done
        sb systemctl daemon-reload
        # a serving server's users write: one row right before the drain (after the backup), as a user's
        # request would, so that a restore point has something since the backup to carry (and
        # Snapshot=delta a commit to read ahead to); the drain helper is wrapped to do it
        sb install -d -m 0755 /usr/local/lib/cbu-bench
        sb mv /usr/libexec/codebolt-upgrade/drain /usr/local/lib/cbu-bench/drain
        sb tee /usr/libexec/codebolt-upgrade/drain >/dev/null <<'WRAP'
#!/bin/sh
# bench/downtime.sh: a user's write while the server still serves, then the real drain
if [ "$#" = 1 ]; then
        runuser -u postgres -- psql -X -q -d codebolt \
                -c "INSERT INTO history (project_id, entry) VALUES (1, 'written before the drain')" >/dev/null || true
fi
exec /usr/local/lib/cbu-bench/drain "$@"
WRAP
        sb chmod 0755 /usr/libexec/codebolt-upgrade/drain

        sb_log "growing the database to about $DB_MB MB"
        # history: the rows the 1.5.0 migration indexes (its time grows with them); memory: the bulk, about
        # 470 bytes a row on disk
        mb_rows=$(((DB_MB - HISTORY_ROWS * 110 / 1048576) * 1048576 / 470))
        cbu_psql -c "INSERT INTO history (project_id, entry, created_at)
                SELECT 1 + g % 3, 'entry ' || md5(g::text), now() - g * interval '1 second'
                FROM generate_series(1, $HISTORY_ROWS) AS g"
        cbu_psql -c "INSERT INTO memory (project_id, key, value)
                SELECT 1 + g % 3, 'key-' || g, repeat(md5(g::text), 12)
                FROM generate_series(1, $mb_rows) AS g"
        sb runuser -u postgres -- psql -X -q -d codebolt -c "VACUUM ANALYZE"

        sb_log "growing the stores to about $STORES_MB MB"
        # three git repositories of many objects (half the size: their files, then as many bytes again in
        # git's objects, since random data does not compress), vectordb files (the other half)
        # shellcheck disable=SC2016 # expanded by the sandbox's shell
        sb runuser -u codebolt -- sh -c '
                set -e
                per_repo=$(($1 / 12)) files=$(($1 * 6))
                for repo in alpha beta gamma; do
                        cd "/var/lib/codebolt/shadow-git/$repo"
                        for c in $(seq 10); do
                                mkdir -p "src/$c"
                                for f in $(seq $((files / 10))); do
                                        head -c $((per_repo * 1048576 / files)) /dev/urandom >"src/$c/$f.bin"
                                done
                                git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm "bench $c"
                        done
                done
                for f in $(seq 50); do
                        head -c $(($1 * 1048576 / 2 / 50)) /dev/urandom >"/var/lib/codebolt/vectordb/segment-$f.bin"
                done' sh "$STORES_MB"

        sb systemctl stop codebolt.service
        psql_admin -c "CREATE DATABASE bench_world TEMPLATE codebolt STRATEGY FILE_COPY"
        sb rsync -a /var/lib/codebolt/ /var/lib/bench-world/
        WORLD_DB_BYTES=$(psql_admin -c "SELECT pg_database_size('codebolt')")
        WORLD_STORES_BYTES=$(sb du -sb /var/lib/codebolt | cut -f1)
        WORLD_STORES_FILES=$(sb find /var/lib/codebolt -type f | wc -l)
        WORLD_PKG_BYTES=$(sb du -sb "/opt/codebolt/releases/$FROM" | cut -f1)
        WORLD_PKG_FILES=$(sb find "/opt/codebolt/releases/$FROM" -type f | wc -l)
        WORLD_BUILD_S=$(($(date +%s) - t0))
        sb_log "world: database $((WORLD_DB_BYTES / 1048576)) MB, stores $((WORLD_STORES_BYTES / 1048576)) MB, package $((WORLD_PKG_BYTES / 1048576)) MB in $WORLD_PKG_FILES files ($WORLD_BUILD_S s)"
}

# world_reset: back to the pristine world, server on 1.4.0 and serving, nothing of codebolt-upgrade's
# left (state, backups, staged releases, snapshot and restore databases)
world_reset() {
        local db
        sb systemctl stop codebolt.service
        sb systemctl reset-failed
        for db in $(psql_admin -c "SELECT datname FROM pg_database WHERE datname LIKE 'codebolt%'"); do
                psql_admin -c "DROP DATABASE \"$db\" WITH (FORCE)"
        done
        psql_admin -c "CREATE DATABASE codebolt OWNER codebolt TEMPLATE bench_world STRATEGY FILE_COPY"
        sb rsync -a --delete /var/lib/bench-world/ /var/lib/codebolt/
        sb sh -c "find /opt/codebolt/releases -mindepth 1 -maxdepth 1 ! -name '$FROM' -exec rm -rf {} +;
                ln -sfn 'releases/$FROM' /opt/codebolt/current;
                rm -rf /backups/codebolt/* /var/lib/codebolt-upgrade/* /run/codebolt-upgrade/* /tmp/npm-bench
                rm -f /etc/codebolt-upgrade/upgrade.conf.d/bench.conf"
        # the guide's npm install went over the old release in place: put it back as it was
        if ! sb runuser -u codebolt -- node -e "process.exit(require('/opt/codebolt/current/lib/node_modules/@codebolt/server/package.json').version === '$FROM' ? 0 : 1)"; then
                sb rm -rf "/opt/codebolt/releases/$FROM"
                sb install -d -o codebolt -g codebolt -m 0755 "/opt/codebolt/releases/$FROM"
                npm_install "/opt/codebolt/releases/$FROM" "$FROM"
        fi
        sb systemctl start codebolt.service
        cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60 || fail "the reset world's server did not become healthy"
        psql_admin -c CHECKPOINT
        sb sync
}

# npm_install PREFIX VERSION: the guide's `npm install -g`, into PREFIX, with an empty cache (an
# operator's cache would not hold the new release either)
npm_install() {
        sb runuser -u codebolt -- env HOME=/tmp/npm-bench npm_config_cache=/tmp/npm-bench/cache \
                npm install -g --no-audit --no-fund --loglevel=warn --prefix "$1" \
                --registry "http://127.0.0.1:$CBU_REGISTRY_PORT/" "@codebolt/server@$2" >/dev/null
}

snapshot_mode() {
        sb mkdir -p /etc/codebolt-upgrade/upgrade.conf.d
        printf '[Backup]\nSnapshot=%s\n' "$1" | sb tee /etc/codebolt-upgrade/upgrade.conf.d/bench.conf >/dev/null
}

probe_start() {
        sb rm -f /var/tmp/probe.log
        sb systemd-run --quiet --unit=bench-probe --property=Type=exec /usr/bin/node "$src/bench/probe.js" \
                "http://127.0.0.1:$CBU_PORT/health" /var/tmp/probe.log 20
        # its first answer logged, so that the procedure starts with the server seen up
        for _ in $(seq 100); do
                sb test -s /var/tmp/probe.log && return 0
                sleep 0.05
        done
        fail "the prober logged nothing"
}

# probe_stop FILE: a second more of answers, then the prober's log into FILE
probe_stop() {
        sleep 1
        sb systemctl stop bench-probe.service
        cp "$(sb_root)/var/tmp/probe.log" "$1"
}

# wait_version V: until /health says V (a minute at most)
wait_version() {
        local _
        for _ in $(seq 300); do
                [ "$(cbu_health_version 2>/dev/null)" = "$1" ] && return 0
                sleep 0.2
        done
        return 1
}

# wait_inactive UNIT: until UNIT is neither activating nor deactivating
wait_inactive() {
        local state _
        for _ in $(seq 1200); do
                state=$(sb systemctl show -P ActiveState "$1")
                [ "$state" != activating ] && [ "$state" != deactivating ] && return 0
                sleep 0.2
        done
        return 1
}

# wait_started_since UNIT NS: until UNIT has started since NS (nanoseconds since the epoch)
wait_started_since() {
        local since _
        for _ in $(seq 300); do
                since=$(sb systemctl show -P InactiveExitTimestamp --timestamp=unix "$1")
                [ -n "$since" ] && [ "${since#@}" -ge $(($2 / 1000000000)) ] && return 0
                sleep 0.2
        done
        return 1
}

now_ns() {
        date +%s%N
}

# run_procedure NAME DIR: one trial of NAME on the reset world; DIR gets probe.log, journal.json and
# trial.json (the procedure's own marks, nanoseconds since the epoch)
run_procedure() {
        local name=$1 dir=$2 cursor t0 t1 end=$TO rc=0 setup0 setup1
        mkdir -p "$dir"
        setup0=$(now_ns)
        case $name in
        floor)
                sb install -d -o codebolt -g codebolt -m 0755 "/opt/codebolt/releases/$TO"
                npm_install "/opt/codebolt/releases/$TO" "$TO"
                ;;
        template | dump | none | delta) snapshot_mode "$name" ;;
        minor-rollback)
                sb systemctl start "codebolt-upgrade@$TO.service" || fail "minor-rollback: the upgrade before it failed"
                end=$FROM
                ;;
        restore-snapshot) snapshot_mode template; end=$FROM ;;
        restore-dump) snapshot_mode dump; end=$FROM ;;
        restore-delta) snapshot_mode delta; end=$FROM ;;
        esac
        setup1=$(now_ns)
        cursor=$(sb_cursor) || fail "cannot read the journal's cursor"
        probe_start
        t0=$(now_ns)
        case $name in
        guide)
                sb systemctl stop codebolt.service
                npm_install /opt/codebolt/current "$TO"
                sb systemctl start codebolt.service
                ;;
        floor)
                sb systemctl stop codebolt.service
                sb ln -sfn "releases/$TO" /opt/codebolt/current
                sb systemctl start codebolt.service
                ;;
        template | dump | none | delta) sb systemctl start "codebolt-upgrade@$TO.service" || rc=$? ;;
        minor-rollback) sb systemctl start "codebolt-rollback@$TO.service" || rc=$? ;;
        restore-snapshot | restore-dump | restore-delta)
                # the failing migration fails the unit; its OnFailure= rollback restores
                sb systemctl start "codebolt-upgrade@$FAILING.service" 2>/dev/null && fail "$name: $FAILING did not fail"
                wait_started_since "codebolt-rollback@$FAILING.service" "$t0" || fail "$name: no rollback started"
                wait_inactive "codebolt-rollback@$FAILING.service" || fail "$name: the rollback did not end"
                ;;
        esac
        wait_version "$end" || fail "$name: the server does not answer as $end"
        t1=$(now_ns)
        probe_stop "$dir/probe.log"
        [ "$rc" = 0 ] || fail "$name: the unit failed ($rc)"
        sb journalctl --sync
        sb journalctl --no-pager -o json --after-cursor "$cursor" >"$dir/journal.json"
        jq -n --arg name "$name" --arg endv "$end" --argjson setup0 "$setup0" --argjson setup1 "$setup1" \
                --argjson t0 "$t0" --argjson t1 "$t1" \
                '{name: $name, "end": $endv, setup_ns: ($setup1 - $setup0), start_ns: $t0, end_ns: $t1}' >"$dir/trial.json"
}

# yardsticks DIR: the raw tools on the world as it is now (reset): pg_dump -Fc, a file copy of the
# database's directory, pg_restore of that dump, rsync of the stores, and PostgreSQL's own copy of the
# database (CREATE DATABASE … STRATEGY FILE_COPY after a checkpoint, the server stopped for it, as the
# snapshot phase runs it); seconds each into DIR/yardsticks.json
yardsticks() {
        local dir=$1 oid t0 t1 t2 t3 t4 t5 t6 t7
        mkdir -p "$dir"
        oid=$(psql_admin -c "SELECT oid FROM pg_database WHERE datname = 'codebolt'")
        sb rm -rf /var/tmp/yard && sb install -d -o postgres -m 0700 /var/tmp/yard
        t0=$(now_ns)
        sb runuser -u postgres -- sh -c 'pg_dump -Fc -d codebolt >/var/tmp/yard/codebolt.dump && sync -f /var/tmp/yard/codebolt.dump'
        t1=$(now_ns)
        psql_admin -c CHECKPOINT
        t2=$(now_ns)
        sb sh -c "cp -a /var/lib/postgresql/15/main/base/$oid /var/tmp/yard/base-copy && sync -f /var/tmp/yard/base-copy"
        t3=$(now_ns)
        psql_admin -c "CREATE DATABASE yard_restore TEMPLATE template0"
        sb runuser -u postgres -- pg_restore --exit-on-error --no-owner -d yard_restore /var/tmp/yard/codebolt.dump
        t4=$(now_ns)
        sb rsync -a /var/lib/codebolt/ /var/tmp/yard/stores/
        sb sync -f /var/tmp/yard/stores
        t5=$(now_ns)
        psql_admin -c "DROP DATABASE yard_restore"
        sb rm -rf /var/tmp/yard
        sb systemctl stop codebolt.service
        psql_admin -c CHECKPOINT
        t6=$(now_ns)
        psql_admin -c "CREATE DATABASE yard_copy TEMPLATE codebolt STRATEGY FILE_COPY"
        t7=$(now_ns)
        psql_admin -c "DROP DATABASE yard_copy"
        sb systemctl start codebolt.service
        jq -n --argjson a "$t0" --argjson b "$t1" --argjson c "$t2" --argjson d "$t3" --argjson e "$t4" \
                --argjson f "$t5" --argjson g "$t6" --argjson h "$t7" \
                '{pg_dump: (($b - $a) / 1e9), copy: (($d - $c) / 1e9), pg_restore: (($e - $d) / 1e9),
                  rsync: (($f - $e) / 1e9), createdb: (($h - $g) / 1e9)}' >"$dir/yardsticks.json"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
trap 'rm -rf "$results"' EXIT
sandbox_boot
trap 'sandbox_teardown_keep $?' EXIT
world_build
for t in $(seq "$trials"); do
        # a trial runs every procedure once, so that what else the machine does weighs on all alike
        for p in "${PROCEDURES[@]}"; do
                sb_log "trial $t/$trials: $p"
                world_reset
                run_procedure "$p" "$results/$p/$t"
        done
        world_reset
        yardsticks "$results/yardsticks/$t"
done
# the same build's generator and path search, outside the sandbox (they read and write nothing of it)
meson test -C "$CBU_BUILD_DIR" --benchmark --no-rebuild -v generator plan-path >"$results/benchmarks.txt" 2>&1

jq -n --arg commit "${CBU_BENCH_COMMIT:-$commit}" --argjson dirty "$dirty" \
        --arg cpu "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)" --arg nproc "$(nproc)" \
        --arg kernel "$(uname -r)" --arg loadavg "$load_start" \
        --arg mem_mb "$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)" \
        --arg date "$(date -u +%Y-%m-%dT%H:%MZ)" --argjson small "$small" --argjson trials "$trials" \
        --argjson db "$WORLD_DB_BYTES" --argjson stores "$WORLD_STORES_BYTES" --argjson pkg "$WORLD_PKG_BYTES" \
        --argjson pkg_files "$WORLD_PKG_FILES" --argjson stores_files "$WORLD_STORES_FILES" --argjson build_s "$WORLD_BUILD_S" --argjson history "$HISTORY_ROWS" \
        '{commit: $commit, dirty: $dirty, cpu: $cpu, nproc: $nproc, kernel: $kernel, loadavg: $loadavg,
          mem_mb: $mem_mb, date: $date, small: $small, trials: $trials,
          world: {db_bytes: $db, stores_bytes: $stores, stores_files: $stores_files, package_bytes: $pkg, package_files: $pkg_files,
                  history_rows: $history, build_s: $build_s}}' >"$results/machine.json"

python3 "$src/bench/downtime-report.py" "$results" "$FROM" "$TO" "$FAILING" \
        "${out_md:+--out=$out_md}" "${out_json:+--json=$out_json}" \
        "$($growth && echo "--growth=$results/growth.json")" "${PROCEDURES[@]}"
