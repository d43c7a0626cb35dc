# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# cluster.sh: the world of the cluster scenarios (HACKING.md, "Tests"): one network namespace made for
# the test; in it PostgreSQL in a sandbox of its own serving every host over TCP (127.0.0.1:5432), etcd
# (127.0.0.3:2379), HAProxy (frontend 127.0.0.10:8080, admin socket 127.0.0.10:9999, backend `codebolt`,
# servers cb1…cbN), the local npm registry (127.0.0.1:4873), and N Codebolt hosts: host i is a systemd
# sandbox named cb<i> with its own /opt/codebolt, state and journal, codebolt-upgrade installed from the
# build, and the stand-in bound to 127.0.0.1<i>:3456 on the shared database. Sourced after sandbox.sh and
# codebolt.sh; cluster_up tears everything down on exit, also on failure.
#
#   cluster_up VERSION [N]      the world with N hosts (default 3), all running VERSION on a seeded database
#   cl I CMD...                 run CMD in host I's sandbox (0: the database's)
#   cl_net CMD...               run CMD on the bare host, in the world's network namespace
#   cl_addr I                   host I's address (127.0.0.1<I>)
#   cl_journal I UNIT           UNIT's messages of this boot in host I
#   cl_health_version I         the version host I's /health reports (empty when it does not answer 200)
#   cl_psql ARGS...             psql on the shared database as its owner (-X -q -A -t, ON_ERROR_STOP)
#   cl_db FUNCTION ARGS...      a database function of codebolt.sh (cbu_psql, cbu_row_counts,
#                               cbu_table_digests, …) on the shared database
#   cl_install_release I V      what the operator does on host I: npm install V, point current at it
#   cl_applied_count ID         how many hosts' servers applied migration ID (their journals' lines)
#   cl_cluster_config I NAME S [SOCK] host I a member of cluster NAME, soaking S, HAProxy's admin socket SOCK
#   cl_data_mark, cl_data_intact W  remember the seeded rows; fail (saying W) unless they are intact
#   cl_etcd_stop, cl_etcd_start stop etcd, start it again on the same data
#   cl_haproxy COMMAND          one command on HAProxy's admin socket; prints the answer
#   cl_lb_field I FIELD         FIELD of `show stat` (status, scur, …) for host I's server
#   cl_lb_wait I FIELD VALUE S  until that field is VALUE, for at most S seconds
#   cl_load_start [RATE] [LATENCY_FILE]
#                               start the load generator: RATE (50) logged-in API calls a second via HAProxy;
#                               with LATENCY_FILE, each request's start, duration and status there too
#   cl_load_stop                stop it; sets CL_LOAD_REQUESTS and CL_LOAD_FAILED
#   cl_load_failures            the failed requests, one JSON line each ({t, path, status, error})
#   cl_load_failure_window      the first and the last failed request's time (ms since the epoch), or nothing

CL_HOSTS=0
CL_NETNS=
CL_DIR=
CL_SB_PID=()
CL_SB_DIR=()
CL_SB_UNSHARE=()
CL_PROCS=() # the plain processes started in the namespace, by pid
CL_LOAD_PID=
CL_ETCD_PID=
CL_HISTORY_MAX=
CL_DIGESTS=
CL_LOAD_REQUESTS=
CL_LOAD_FAILED=
CL_UP_MS= # how long cluster_up took, in ms
CL_PORT=3456
CL_BACKEND=codebolt
CL_ADMIN=127.0.0.10:9999
# every host's server signs its login tokens with this, so that each accepts the others'
CL_TOKEN_SECRET=cluster-token-secret
CL_UNITS_MASKED_ON_HOSTS="postgresql.service postgresql@.service"

cl() {
        local i=$1
        shift
        SB_PID=${CL_SB_PID[$i]} sb "$@"
}

cl_net() {
        nsenter "--net=/run/netns/$CL_NETNS" -- "$@"
}

cl_addr() {
        echo "127.0.0.1$1"
}

cl_journal() {
        SB_PID=${CL_SB_PID[$1]} sb_journal "$2"
}

cl_health_version() {
        cl_net curl -fsS --max-time 5 "http://$(cl_addr "$1"):$CL_PORT/health" 2>/dev/null | jq -r .version ||
                true
}

cl_psql() {
        cl_net psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -U codebolt -d codebolt "$@"
}

cl_db() {
        SB_PID=${CL_SB_PID[0]} "$@"
}

cl_teardown() {
        local rc=$? i pid
        trap - EXIT INT TERM
        for pid in "${CL_PROCS[@]}"; do
                kill -TERM "$pid" 2>/dev/null || true
        done
        for pid in "${CL_PROCS[@]}"; do
                wait "$pid" 2>/dev/null || true
        done
        for i in "${!CL_SB_PID[@]}"; do
                if [ -n "${CL_SB_PID[$i]}" ] && kill -0 "${CL_SB_PID[$i]}" 2>/dev/null; then
                        if [ "$i" != 0 ] && { [ "$rc" != 0 ] || [ "$SB_FAILED" != 0 ]; }; then
                                echo "===== host $i (cb$i) ====="
                                SB_PID=${CL_SB_PID[$i]} sb_dump_journal || true
                        fi
                        kill -KILL "${CL_SB_PID[$i]}" 2>/dev/null || true
                fi
        done
        if [ -n "$CL_DIR" ] && [ -s "$CL_DIR/load.jsonl" ] && { [ "$rc" != 0 ] || [ "$SB_FAILED" != 0 ]; }; then
                echo "----- the load generator's failed requests (first 20) -----"
                head -n 20 "$CL_DIR/load.jsonl"
        fi
        if [ -n "$CL_DIR" ] && [ -s "$CL_DIR/haproxy.log" ] && { [ "$rc" != 0 ] || [ "$SB_FAILED" != 0 ]; }; then
                echo "----- HAProxy's log (last 40 lines) -----"
                tail -n 40 "$CL_DIR/haproxy.log"
        fi
        for i in "${!CL_SB_DIR[@]}"; do
                [ -z "${CL_SB_UNSHARE[$i]:-}" ] || wait "${CL_SB_UNSHARE[$i]}" 2>/dev/null || true
                SB_DIR=${CL_SB_DIR[$i]} sb_remove_cgroups
                rm -rf --one-file-system "${CL_SB_DIR[$i]}"
        done
        [ -z "$CL_NETNS" ] || ip netns delete "$CL_NETNS" 2>/dev/null || true
        [ -z "$CL_DIR" ] || rm -rf --one-file-system "$CL_DIR"
        exit "$rc"
}

# cl_spawn I: start sandbox I (0: the database, cb<I> otherwise) in the namespace
cl_spawn() {
        local i=$1 host=cb$1 mask=$CL_UNITS_MASKED_ON_HOSTS
        [ "$i" != 0 ] || { host=cbdb; mask=; }
        CL_SB_DIR[i]=$(mktemp -d /var/tmp/cbu-sandbox.XXXXXX)
        SB_DIR=${CL_SB_DIR[$i]} SB_NETNS=$CL_NETNS CBU_SB_HOSTNAME=$host CBU_SB_MASK=$mask sb_spawn
        CL_SB_UNSHARE[i]=$SB_UNSHARE_PID
        SB_UNSHARE_PID=
}

# cl_wait_running I: until sandbox I's systemd runs
cl_wait_running() {
        local i=$1
        SB_DIR=${CL_SB_DIR[$i]} SB_UNSHARE_PID=${CL_SB_UNSHARE[$i]} sb_wait_running >/dev/null
        CL_SB_PID[i]=$SB_PID
        SB_PID=
}

# cl_background NAME CMD...: run CMD as a plain process in the namespace, its output in $CL_DIR/NAME.log
cl_background() {
        local name=$1
        shift
        # nsenter execs CMD: $! is CMD's pid (through the function cl_net it would be a subshell's)
        nsenter "--net=/run/netns/$CL_NETNS" -- "$@" >>"$CL_DIR/$name.log" 2>&1 &
        CL_PROCS+=("$!")
}

# cl_cluster_config I NAME MIN_HEALTHY [SOCKET]: host I in cluster NAME, as the README sets a member up:
# the address its server answers on, etcd, its server in HAProxy (admin SOCKET, default the world's)
cl_cluster_config() {
        local i=$1 name=$2 soak=$3 socket=${4:-tcp:$CL_ADMIN}
        cl "$i" install -d -m 0755 /etc/codebolt-upgrade/upgrade.conf.d
        cl "$i" tee /etc/codebolt-upgrade/upgrade.conf.d/50-cluster.conf >/dev/null <<CONF
[Server]
Address=$(cl_addr "$i")

[Cluster]
Name=$name
Etcd=http://127.0.0.3:2379
HostId=cb$i
MinHealthy=$soak

[LoadBalancer]
Driver=haproxy
Socket=$socket
Backend=$CL_BACKEND
Server=cb$i
CONF
}

# cl_data_mark: remember the seeded rows (cl_data_intact compares with them)
cl_data_mark() {
        CL_HISTORY_MAX=$(cl_psql -c 'SELECT max(id) FROM history')
        CL_DIGESTS=$(cl_db cbu_table_digests "$CL_HISTORY_MAX")
}

# cl_data_intact WHEN: the seeded rows as cl_data_mark saw them, and no history row but the smoke tests'
cl_data_intact() {
        [ "$(cl_db cbu_table_digests "$CL_HISTORY_MAX")" = "$CL_DIGESTS" ] || fail "the seeded rows changed $1"
        [ -z "$(cl_db cbu_extra_history "$CL_HISTORY_MAX")" ] ||
                fail "rows were added $1: $(cl_db cbu_extra_history "$CL_HISTORY_MAX")"
}

# cl_etcd_start: etcd on 127.0.0.3:2379, its data in $CL_DIR/etcd (kept across a stop); CL_ETCD_PID
cl_etcd_start() {
        cl_background etcd /usr/bin/etcd --name cluster --data-dir "$CL_DIR/etcd" \
                --listen-client-urls http://127.0.0.3:2379 --advertise-client-urls http://127.0.0.3:2379 \
                --listen-peer-urls http://127.0.0.3:2380 --initial-advertise-peer-urls http://127.0.0.3:2380 \
                --initial-cluster cluster=http://127.0.0.3:2380
        CL_ETCD_PID=${CL_PROCS[-1]}
}

# cl_etcd_stop: stop the etcd cl_etcd_start started (by its pid), and forget the pid
cl_etcd_stop() {
        local pid keep=()
        [ -n "$CL_ETCD_PID" ] || fail "cl_etcd_stop: etcd does not run"
        kill -TERM "$CL_ETCD_PID"
        wait "$CL_ETCD_PID" || true
        for pid in "${CL_PROCS[@]}"; do
                [ "$pid" = "$CL_ETCD_PID" ] || keep+=("$pid")
        done
        CL_PROCS=("${keep[@]}")
        CL_ETCD_PID=
}

# cl_wait_net SECONDS CMD...: until CMD succeeds in the namespace
cl_wait_net() {
        local s=$1 _
        shift
        for _ in $(seq $((s * 5))); do
                cl_net "$@" >/dev/null 2>&1 && return 0
                sleep 0.2
        done
        return 1
}

# cl_database: PostgreSQL of sandbox 0 takes TCP connections from 127.0.0.1 without a password; the
# role and the empty database codebolt, and the OS user codebolt for codebolt.sh's cbu_psql
cl_database() {
        cl 0 useradd --system --home-dir /var/lib/codebolt --shell /usr/sbin/nologin codebolt
        cl 0 sed -i '1i host all all 127.0.0.1/32 trust' /etc/postgresql/15/main/pg_hba.conf
        cl 0 systemctl reload postgresql@15-main.service
        cl_wait_net 30 psql -X -h 127.0.0.1 -U postgres -d postgres -c 'SELECT 1' ||
                fail "PostgreSQL does not take TCP connections on 127.0.0.1:5432"
        cl_net psql -X -q -h 127.0.0.1 -U postgres -d postgres -c 'CREATE ROLE codebolt LOGIN'
        cl_net createdb -h 127.0.0.1 -U postgres -O codebolt codebolt
}

# cl_install_release I VERSION: npm install VERSION under /opt/codebolt/releases on host I and point
# /opt/codebolt/current at it, as the operator does
cl_install_release() {
        local i=$1 v=$2
        cl "$i" install -d -o codebolt -g codebolt -m 0755 "/opt/codebolt/releases/$v"
        cl "$i" runuser -u codebolt -- env HOME=/tmp/npm-home npm install -g --no-audit --no-fund --loglevel=warn \
                --prefix "/opt/codebolt/releases/$v" --registry "http://127.0.0.1:$CBU_REGISTRY_PORT/" \
                "@codebolt/server@$v" >/dev/null
        cl "$i" ln -sfn "releases/$v" /opt/codebolt/current
}

# cl_host I VERSION: codebolt-upgrade from the build, the stores, the config, VERSION installed and the
# server unit enabled on host I (not started)
cl_host() {
        local i=$1 version=$2
        SB_PID=${CL_SB_PID[$i]} cbu_install
        # shellcheck disable=SC2016 # expanded by the sandbox's shell
        cl "$i" sh -c 'set -e
                useradd --system --home-dir /var/lib/codebolt --shell /usr/sbin/nologin codebolt
                for s in shadow-git vectordb kg capabilities; do
                        install -d -o codebolt -g codebolt -m 0750 /var/lib/codebolt/$s
                done
                echo "{\"nodes\":3}" >/var/lib/codebolt/kg/graph.json
                echo "[]" >/var/lib/codebolt/capabilities/installed.json
                install -d -m 0755 /etc/codebolt /opt/codebolt/releases
                printf "port: %s\ndatabase: codebolt\n" "$1" >/etc/codebolt/codebolt-server.yaml
                echo mk-2026-0001 >/etc/codebolt/master-key-id
                install -d -m 0700 /etc/codebolt-upgrade/credentials
                (umask 077; printf smoke-secret >/etc/codebolt-upgrade/credentials/smoke-password)' sh "$CL_PORT"
        cl_install_release "$i" "$version"
        cl "$i" tee /etc/codebolt-upgrade/upgrade.conf >/dev/null <<CONF
[Server]
Registry=http://127.0.0.1:$CBU_REGISTRY_PORT/

[Database]
Connection=host=127.0.0.1 port=5432
CONF
        cbu_server_unit "Codebolt server (cluster host cb$i)" network.target /opt/codebolt \
                "CODEBOLT_HOST=$(cl_addr "$i") CODEBOLT_PORT=$CL_PORT CODEBOLT_DB=codebolt CODEBOLT_DATA=/var/lib/codebolt" \
                "CODEBOLT_TOKEN_SECRET=$CL_TOKEN_SECRET CODEBOLT_RUN_SECONDS=${CBU_RUN_SECONDS:-3}" \
                "PGHOST=127.0.0.1 PGPORT=5432" |
                cl "$i" tee /etc/systemd/system/codebolt.service >/dev/null
        cl "$i" systemctl daemon-reload
        cl "$i" systemctl enable --quiet codebolt.service
}

# cl_haproxy_config: the balancer of the guide: round robin over the hosts, each checked with GET /health
# every 500 ms, out after 2 failed checks, back after 2 passed
cl_haproxy_config() {
        local i
        cat <<CFG
global
        maxconn 2000
        stats socket ipv4@$CL_ADMIN level admin
        # the servers' state changes, for the teardown's report
        log stdout format raw local0 notice

defaults
        mode http
        log global
        timeout connect 2s
        timeout client 30s
        timeout server 30s
        # a loaded test machine (two cluster worlds side by side on 2 cores) may take seconds to answer
        # a check: only the drain, never a slow answer, may take a server out during a scenario
        timeout check 5s
        retries 3
        option redispatch

frontend codebolt
        bind 127.0.0.10:8080
        default_backend $CL_BACKEND

backend $CL_BACKEND
        balance roundrobin
        option httpchk GET /health
        default-server inter 500ms fall 2 rise 2
CFG
        for i in $(seq "$CL_HOSTS"); do
                printf '        server cb%s %s:%s check\n' "$i" "$(cl_addr "$i")" "$CL_PORT"
        done
}

cluster_up() {
        local version=$1 i t0 pids=() pid
        CL_HOSTS=${2:-3}
        [ "$(id -u)" = 0 ] || { echo "integration tests need root (unshare, mounts)" >&2; exit 1; }
        local bin
        for bin in /usr/bin/etcd /usr/sbin/haproxy; do
                [ -x "$bin" ] || fail "$bin is missing (tools/deps.sh installs it)"
        done
        t0=$(date +%s%N)
        CL_DIR=$(mktemp -d /var/tmp/cbu-cluster.XXXXXX)
        trap cl_teardown EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        CL_NETNS=cbu-$SB_NAME-$$
        ip netns add "$CL_NETNS"
        cl_net ip link set lo up

        for i in $(seq 0 "$CL_HOSTS"); do
                cl_spawn "$i"
        done
        cl_background registry node "$CBU_FIXTURES/registry/registry.js" --dir "$CBU_TARBALLS" \
                --host 127.0.0.1 --port "$CBU_REGISTRY_PORT"
        cl_etcd_start
        # each sandbox is laid out as soon as it runs, while the others boot: the database in sandbox 0, a
        # host in each other
        cl_wait_running 0
        cl_wait_net 30 curl -fsS -o /dev/null "http://127.0.0.1:$CBU_REGISTRY_PORT/@codebolt%2fserver" ||
                fail "the local registry did not answer"
        cl_database >>"$CL_DIR/database.log" 2>&1 &
        pids+=("$!")
        for i in $(seq "$CL_HOSTS"); do
                cl_wait_running "$i"
                cl_host "$i" "$version" >>"$CL_DIR/host$i.log" 2>&1 &
                pids+=("$!")
        done
        sb_log "$((CL_HOSTS + 1)) sandboxes are up in the network namespace $CL_NETNS"
        cl_wait_net 30 curl -fsS -o /dev/null -X POST -d '{"key":"Zm9v"}' http://127.0.0.3:2379/v3/kv/range ||
                fail "etcd did not answer on 127.0.0.3:2379"
        for pid in "${pids[@]}"; do
                wait "$pid" || fail "the database or a host could not be laid out: $(cat "$CL_DIR"/*.log)"
        done
        sb_log "the database and the hosts are laid out"
        # every server starts at the same moment on the empty database: one of them migrates it
        for i in $(seq "$CL_HOSTS"); do
                cl "$i" systemctl start --no-block codebolt.service
        done
        for i in $(seq "$CL_HOSTS"); do
                cl_wait_net 60 curl -fsS -o /dev/null "http://$(cl_addr "$i"):$CL_PORT/health" ||
                        fail "Codebolt $version on host $i did not become healthy"
        done
        cl_psql -f "$CBU_FIXTURES/seed.sql" >/dev/null

        cl_haproxy_config >"$CL_DIR/haproxy.cfg"
        cl_background haproxy /usr/sbin/haproxy -db -f "$CL_DIR/haproxy.cfg"
        cl_wait_net 10 bash -c "exec 3<>/dev/tcp/${CL_ADMIN%:*}/${CL_ADMIN#*:}" || fail "HAProxy's admin socket did not answer"
        for i in $(seq "$CL_HOSTS"); do
                cl_lb_wait "$i" status UP 10 || fail "HAProxy does not see host $i UP: $(cl_lb_field "$i" status)"
        done
        printf 'smoke-secret' >"$CL_DIR/smoke-password"
        CL_UP_MS=$((($(date +%s%N) - t0) / 1000000))
        sb_log "the world is up in $((CL_UP_MS / 1000)).$((CL_UP_MS % 1000 / 100)) s: $CL_HOSTS hosts on Codebolt" \
                "$version behind HAProxy, etcd, one PostgreSQL"
}

cl_haproxy() {
        # shellcheck disable=SC2016 # expanded by that bash
        cl_net bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "%s\n" "$3" >&3 && cat <&3' sh \
                "${CL_ADMIN%:*}" "${CL_ADMIN#*:}" "$1"
}

cl_lb_field() {
        cl_haproxy "show stat" | awk -F, -v b="$CL_BACKEND" -v s="cb$1" -v f="$2" '
                NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
                $1 == b && $2 == s { print $col[f] }'
}

cl_lb_wait() {
        local _
        for _ in $(seq $(($4 * 5))); do
                [ "$(cl_lb_field "$1" "$2")" = "$3" ] && return 0
                sleep 0.2
        done
        return 1
}

cl_applied_count() {
        local i n=0 out
        for i in $(seq "$CL_HOSTS"); do
                out=$(cl_journal "$i" codebolt.service)
                n=$((n + $(grep -cF "migrations: applying $1" <<<"$out" || true)))
        done
        echo "$n"
}

cl_load_start() {
        local latency=()
        [ -z "${2:-}" ] || latency=(--latency-out "$2")
        cl_background load node "$CBU_FIXTURES/traffic/load.js" --host 127.0.0.10 --port 8080 --rate "${1:-50}" \
                --out "$CL_DIR/load.jsonl" --password-file "$CL_DIR/smoke-password" "${latency[@]}"
        CL_LOAD_PID=${CL_PROCS[-1]}
}

# shellcheck disable=SC2034 # CL_LOAD_*: read by the scenarios
cl_load_stop() {
        [ -n "$CL_LOAD_PID" ] || fail "cl_load_stop without cl_load_start"
        local rc=0 last
        kill -TERM "$CL_LOAD_PID"
        wait "$CL_LOAD_PID" || rc=$?
        CL_LOAD_PID=
        # its last line sums it up, once it has waited for the requests in flight
        last=$(tail -n 1 "$CL_DIR/load.jsonl")
        jq -e 'has("requests")' <<<"$last" >/dev/null 2>&1 ||
                fail "the load generator ended ($rc) without its summary: $(cat "$CL_DIR/load.log")"
        CL_LOAD_REQUESTS=$(jq -r .requests <<<"$last")
        CL_LOAD_FAILED=$(jq -r .failed <<<"$last")
}

cl_load_failures() {
        grep -v '"requests":' "$CL_DIR/load.jsonl" || true
}

cl_load_failure_window() {
        local t first='' last=''
        for t in $(cl_load_failures | jq -r .t); do
                t=$(date -d "$t" +%s%3N)
                [ -n "$first" ] && [ "$first" -le "$t" ] || first=$t
                [ -n "$last" ] && [ "$last" -ge "$t" ] || last=$t
        done
        [ -z "$first" ] || echo "$first $last"
}

# ---- power cuts of a host, and every host a member (cluster-crash) ----
# A host of the world loses power and boots again, as sandbox_power_cut and sandbox_boot_again do for a
# single sandbox: the world must be made with SB_DISK=1 (each sandbox's upper layer on disk), so that the
# host's files survive the cut; the second boot joins the world's network namespace again.
#
#   cl_power_cut I              host I dies at once: its PID 1 and everything in it killed, nothing flushed
#   cl_boot_again I             host I boots a new systemd on the same upper layer, until it runs
#   cl_join_all NAME MIN_HEALTHY every host a member of cluster NAME (cl_cluster_config, cluster join)

cl_power_cut() {
        local i=$1
        [ "${SB_DISK:-0}" = 1 ] || fail "cl_power_cut needs SB_DISK=1 (the upper layers on disk)"
        [ -n "${CL_SB_PID[$i]:-}" ] || fail "cl_power_cut: host $i is down already"
        sb_log "power cut of host $i (cb$i)"
        kill -KILL "${CL_SB_PID[$i]}" 2>/dev/null || true
        wait "${CL_SB_UNSHARE[$i]}" 2>/dev/null || true
        SB_DIR=${CL_SB_DIR[$i]} sb_remove_cgroups
        CL_SB_PID[i]=
        CL_SB_UNSHARE[i]=
}

cl_boot_again() {
        local i=$1 host=cb$1
        [ -z "${CL_SB_PID[$i]:-}" ] || fail "cl_boot_again: host $i runs (cl_power_cut first)"
        sb_log "host $i (cb$i) boots again"
        SB_DIR=${CL_SB_DIR[$i]} SB_NETNS=$CL_NETNS CBU_SB_HOSTNAME=$host CBU_SB_MASK=$CL_UNITS_MASKED_ON_HOSTS sb_spawn
        CL_SB_UNSHARE[i]=$SB_UNSHARE_PID
        SB_UNSHARE_PID=
        cl_wait_running "$i"
}

cl_join_all() {
        local i
        for i in $(seq "$CL_HOSTS"); do
                cl_cluster_config "$i" "$1" "$2"
                cl "$i" codebolt-upgrade cluster join >/dev/null
        done
}

# ---- journal cursors, busy units, the seeded rows through a breaking migration (cluster-breaking) ----
#
#   cl_cursor I                 host I's journal cursor now (sb_cursor)
#   cl_journal_since I CURSOR [MATCH...]   host I's messages after CURSOR (sb_journal_since)
#   cl_units_busy VERSION       some host's codebolt-upgrade@VERSION or codebolt-rollback@VERSION works
#                               (activating or reloading)
#   cl_data_kept WHEN           as cl_data_intact, but history compared on the columns it had when
#                               cl_data_mark saw it (id, project_id, entry, created_at): for a breaking
#                               migration that rebuilds it with its rows and ids (1.6.0's
#                               20260501_rewrite_history)

cl_cursor() {
        SB_PID=${CL_SB_PID[$1]} sb_cursor
}

cl_journal_since() {
        local i=$1
        shift
        SB_PID=${CL_SB_PID[$i]} sb_journal_since "$@"
}

cl_units_busy() {
        local i
        for i in $(seq "$CL_HOSTS"); do
                case $(cl "$i" systemctl is-active "codebolt-upgrade@$1.service" "codebolt-rollback@$1.service" || true) in
                *activating* | *reloading*) return 0 ;;
                esac
        done
        return 1
}

cl_data_kept() {
        local now history
        # a row of the old shape as text is the record of those columns: the digest cl_data_mark took
        history=$(cl_db cbu_psql -c "SELECT md5(string_agg(ROW(id, project_id, entry, created_at)::text,
                ',' ORDER BY id)) FROM history WHERE id <= $CL_HISTORY_MAX")
        now=$(cl_db cbu_table_digests "$CL_HISTORY_MAX" | sed "s/^history:.*/history:$history/")
        [ "$now" = "$CL_DIGESTS" ] || fail "the seeded rows changed $1:
before: $(tr '\n' ' ' <<<"$CL_DIGESTS")
after:  $(tr '\n' ' ' <<<"$now")"
        [ -z "$(cl_db cbu_extra_history "$CL_HISTORY_MAX")" ] ||
                fail "rows were added $1: $(cl_db cbu_extra_history "$CL_HISTORY_MAX")"
}
