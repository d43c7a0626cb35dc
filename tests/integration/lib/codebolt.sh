# SPDX-License-Identifier: LGPL-2.1-or-later
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
        # what systemd's dpkg trigger does for a package
        sb journalctl --update-catalog
        sb systemctl daemon-reload
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
        local i
        for i in $(seq $(($2 * 5))); do
                sb curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
                sleep 0.2
        done
        return 1
}

cbu_psql() {
        sb runuser -u codebolt -- psql -X -q -A -t -v ON_ERROR_STOP=1 -d codebolt "$@"
}

# cbu_deploy VERSION: a running Codebolt VERSION with seeded data, as the guide's operator has it
cbu_deploy() {
        local version=$1
        sb sh -c 'id -u codebolt >/dev/null 2>&1 || useradd --system --home-dir /var/lib/codebolt --shell /usr/sbin/nologin codebolt'
        sb runuser -u postgres -- psql -X -q -c "CREATE ROLE codebolt LOGIN" 2>/dev/null || true
        sb runuser -u postgres -- createdb -O codebolt codebolt

        # the stores: a few git repositories in shadow-git, files in the others
        local s
        for s in shadow-git vectordb kg capabilities; do
                sb install -d -o codebolt -g codebolt -m 0750 "/var/lib/codebolt/$s"
        done
        for s in alpha beta gamma; do
                sb runuser -u codebolt -- git -c init.defaultBranch=main init -q "/var/lib/codebolt/shadow-git/$s"
                sb runuser -u codebolt -- sh -c "cd /var/lib/codebolt/shadow-git/$s && echo '# $s' >README.md && git add README.md && git -c user.name=seed -c user.email=seed@localhost commit -qm 'seed $s'"
        done
        sb runuser -u codebolt -- sh -c 'head -c 65536 /dev/urandom >/var/lib/codebolt/vectordb/index.bin; echo "{\"nodes\":3}" >/var/lib/codebolt/kg/graph.json; echo "[]" >/var/lib/codebolt/capabilities/installed.json'
        sb install -d -m 0755 /etc/codebolt
        sb sh -c "printf 'port: $CBU_PORT\ndatabase: codebolt\n' >/etc/codebolt/codebolt-server.yaml; echo mk-2026-0001 >/etc/codebolt/master-key-id"

        # the release layout this project manages: /opt/codebolt/releases/<version>, /opt/codebolt/current
        sb install -d -m 0755 /opt/codebolt/releases
        sb install -d -o codebolt -g codebolt -m 0755 "/opt/codebolt/releases/$version"
        sb runuser -u codebolt -- env HOME=/tmp/npm-home npm install -g --no-audit --no-fund --loglevel=warn \
                --prefix "/opt/codebolt/releases/$version" --registry "http://127.0.0.1:$CBU_REGISTRY_PORT/" \
                "@codebolt/server@$version" >/dev/null
        sb ln -sfn "releases/$version" /opt/codebolt/current

        sb tee /etc/systemd/system/codebolt.service >/dev/null <<UNIT
[Unit]
Description=Codebolt server
After=network.target postgresql.service

[Service]
Type=exec
User=codebolt
Environment=CODEBOLT_PORT=$CBU_PORT CODEBOLT_DB=codebolt CODEBOLT_DATA=/var/lib/codebolt CODEBOLT_RUN_SECONDS=${CBU_RUN_SECONDS:-3}
ExecStart=/opt/codebolt/current/bin/codebolt-server
Restart=on-failure
RestartSec=2
KillMode=mixed
TimeoutStopSec=300

[Install]
WantedBy=multi-user.target
UNIT

        # codebolt-upgrade's own configuration: the local registry, the smoke-test password
        sb install -d -m 0755 /etc/codebolt-upgrade
        sb tee /etc/codebolt-upgrade/upgrade.conf >/dev/null <<CONF
[Server]
Registry=http://127.0.0.1:$CBU_REGISTRY_PORT/
CONF
        sb install -d -m 0700 /etc/codebolt-upgrade/credentials
        sb sh -c 'umask 077; printf smoke-secret >/etc/codebolt-upgrade/credentials/smoke-password'

        sb systemctl daemon-reload
        sb systemctl start codebolt.service
        cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60 || fail "Codebolt $version did not become healthy"
        cbu_psql -f "$CBU_FIXTURES/seed.sql" >/dev/null
        sb_log "Codebolt $version is running with seeded data"
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
