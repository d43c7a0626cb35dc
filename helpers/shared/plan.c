/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* plan.c: the metadata, the path and the gates of an upgrade, checked before anything is touched */
#define _GNU_SOURCE
#include <math.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "balancer.h"
#include "backup-manifest.h"
#include "bus.h"
#include "hooks.h"
#include "credentials.h"
#include "delta.h"
#include "helper.h"
#include "http.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "string-util.h"
#include "unitname.h"
#include "plan.h"
#include "release.h"
#include "server.h"
#include "spawn.h"
#include "time-util.h"

#define GATE_MAX 12
#define COMMAND_TIMEOUT (60 * USEC_PER_SEC)
#define HTTP_TIMEOUT (30 * USEC_PER_SEC)
/* the upgrade path through the release metadata: milliseconds for any document within the version cap;
 * the deadline bounds a search gone wrong, since the upgrade unit itself has no start timeout */
#define PATH_TIMEOUT (10 * USEC_PER_SEC)

void plan_done(Plan *p) {
        if (!p)
                return;
        free(p->from);
        free(p->to);
        metadata_done(&p->metadata);
        strv_free(p->path);
        cJSON_Delete(p->migrations);
        free(p->downtime_basis);
        for (size_t i = 0; i < p->n_gates; i++)
                free(p->gates[i].reason);
        free(p->gates);
        *p = (Plan){};
}

/* record a gate; the reason is formatted. -ENOMEM only. */
_printf_(4, 5) static int gate(Plan *p, const char *name, CheckResult result, const char *fmt, ...) {
        Gate *g = &p->gates[p->n_gates];

        g->reason = STRPRINTF_ARGS(fmt);
        if (!g->reason)
                return -ENOMEM;
        g->name = name;
        g->result = result;
        p->n_gates++;
        if (result == CHECK_FAIL)
                p->proceed = false;
        return 0;
}

/* ---- what this host says ---- */

static int gate_failed_here(const Config *c, Plan *p) {
        _cleanup_json_ cJSON *ledger = NULL;
        const cJSON *failure;
        int r;

        r = ledger_load(c->deployment, &ledger);
        if (r < 0)
                return gate(p, "failed-here", CHECK_FAIL, "cannot read the ledger: %s", strerror(-r));
        failure = ledger_version_failure(ledger, p->to);
        if (failure)
                return gate(
                        p,
                        "failed-here",
                        CHECK_FAIL,
                        "its last upgrade here ended %s; look into it, then allow it again with: "
                        "codebolt-upgrade clear %s",
                        strempty(json_get_string(failure, "result")),
                        p->to);
        return gate(p, "failed-here", CHECK_PASS, "%s is not marked failed on this host", p->to);
}

static int gate_kind(const Config *c, Plan *p, const SemVer *from, const SemVer *to) {
        p->kind = metadata_classify(from, to);
        switch (p->kind) {
        case UPGRADE_SAME:
                return gate(p, "kind", CHECK_FAIL, "deployment %s runs %s already", c->deployment, p->to);
        case UPGRADE_DOWNGRADE: {
                _cleanup_free_ char *instance = NULL, *unit = NULL;
                if (unitname_instance_for_version(p->from, &instance) < 0 ||
                    unitname_deployment_unit("rollback", c->deployment, instance, &unit) < 0)
                        return -ENOMEM;
                return gate(
                        p,
                        "kind",
                        CHECK_FAIL,
                        "%s → %s is a downgrade: going back is a rollback (systemctl start %s)",
                        p->from,
                        p->to,
                        unit);
        }
        case UPGRADE_MAJOR:
                if (!c->allow_major)
                        return gate(
                                p,
                                "kind",
                                CHECK_FAIL,
                                "%s → %s is a major upgrade: it needs [Policy] AllowMajor=yes (read that "
                                "version's upgrade guide first); it always takes the full-downtime path",
                                p->from,
                                p->to);
                return gate(
                        p,
                        "kind",
                        CHECK_PASS,
                        "major upgrade %s → %s, allowed by AllowMajor=yes (full downtime)",
                        p->from,
                        p->to);
        default:
                return gate(
                        p,
                        "kind",
                        CHECK_PASS,
                        "%s upgrade %s → %s",
                        upgrade_kind_to_string(p->kind),
                        p->from,
                        p->to);
        }
}

/* the target's migrations that the running release does not declare (its metadata, or else its
 * installed package.json) */
static int new_migrations(const Config *c, Plan *p) {
        _cleanup_json_ cJSON *installed = NULL;
        _cleanup_free_ char *dir = NULL;
        const Release *from = metadata_find(&p->metadata, p->from);
        const cJSON *known = from ? from->migrations : NULL, *m;

        if (!from) {
                dir = paths_release_dir(p->from);
                if (!dir)
                        return -ENOMEM;
                if (release_package_json(dir, c->package, &installed) >= 0)
                        known = cJSON_GetObjectItemCaseSensitive(
                                cJSON_GetObjectItemCaseSensitive(installed, "codebolt"), "migrations");
        }
        p->migrations = cJSON_CreateArray();
        if (!p->migrations)
                return -ENOMEM;
        cJSON_ArrayForEach (m, p->target->migrations) {
                const char *id = json_get_string(m, "id");
                const cJSON *k;
                bool have = false;

                cJSON_ArrayForEach (k, known)
                        have = have || streq_ptr(json_get_string(k, "id"), id);
                if (have)
                        continue;
                if (!cJSON_AddItemToArray(p->migrations, cJSON_Duplicate(m, true)))
                        return -ENOMEM;
                if (!cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m, "breaking")))
                        p->breaking = true;
        }
        return 0;
}

static int gate_published(const Config *c, Plan *p) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = metadata_load(c, &p->metadata, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return gate(
                        p,
                        "published",
                        CHECK_FAIL,
                        "cannot read the release metadata: %s",
                        error ?: strerror(-r));
        p->target = metadata_find(&p->metadata, p->to);
        if (!p->target)
                return gate(
                        p, "published", CHECK_FAIL, "%s is not published in %s", p->to, p->metadata.source);
        r = new_migrations(c, p);
        if (r < 0)
                return r;
        if (p->target->deprecated)
                return gate(
                        p,
                        "published",
                        CHECK_FAIL,
                        "%s is deprecated in %s: %s",
                        p->to,
                        p->metadata.source,
                        strempty(json_get_string(
                                cJSON_GetObjectItemCaseSensitive(
                                        cJSON_GetObjectItemCaseSensitive(p->metadata.doc, "versions"),
                                        p->to),
                                "deprecated")));
        return gate(p, "published", CHECK_PASS, "%s is published in %s", p->to, p->metadata.source);
}

static int gate_path(Plan *p, const SemVer *from) {
        _cleanup_free_ char *chain = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        if (!p->target || p->kind == UPGRADE_SAME || p->kind == UPGRADE_DOWNGRADE)
                return gate(p, "path", CHECK_SKIPPED, "no upgrade path to look for");

        r = metadata_step_allowed(p->target, from);
        if (r < 0)
                return gate(
                        p,
                        "path",
                        CHECK_FAIL,
                        "%s's upgradeFrom '%s' is not a valid range",
                        p->to,
                        p->target->upgrade_from);
        if (r > 0) {
                p->path = calloc(2, sizeof(char *));
                if (!p->path || !(p->path[0] = strdup(p->to)))
                        return -ENOMEM;
                if (!p->target->upgrade_from)
                        return gate(p, "path", CHECK_PASS, "direct: %s declares no upgradeFrom", p->to);
                return gate(
                        p,
                        "path",
                        CHECK_PASS,
                        "direct: %s satisfies %s's upgradeFrom '%s'",
                        p->from,
                        p->to,
                        p->target->upgrade_from);
        }

        r = metadata_plan_path_until(&p->metadata, from, p->to, helper_deadline(PATH_TIMEOUT), &p->path);
        if (r == -ENOMEM)
                return r;
        if (r == -ETIME)
                return gate(
                        p,
                        "path",
                        CHECK_FAIL,
                        "searching the %zu versions of %s for an upgrade path from %s to %s took longer "
                        "than "
                        "%llu s",
                        p->metadata.n,
                        p->metadata.source,
                        p->from,
                        p->to,
                        (unsigned long long)(PATH_TIMEOUT / USEC_PER_SEC));
        if (r == -EINVAL)
                return gate(
                        p,
                        "path",
                        CHECK_FAIL,
                        "%s upgrades directly only from '%s', and the search for a chain of versions in %s "
                        "met an upgradeFrom that is not a valid range",
                        p->to,
                        p->target->upgrade_from,
                        p->metadata.source);
        if (r < 0)
                return gate(
                        p,
                        "path",
                        CHECK_FAIL,
                        "%s upgrades directly only from '%s', and no chain of published versions leads "
                        "there from %s",
                        p->to,
                        p->target->upgrade_from,
                        p->from);
        f = open_memstream(&chain, &size);
        if (!f)
                return -ENOMEM;
        fputs(p->from, f);
        STRV_FOREACH (v, p->path)
                fprintf(f, " → %s", *v);
        if (fclose(f) != 0)
                return -ENOMEM;
        return gate(
                p,
                "path",
                CHECK_FAIL,
                "%s upgrades directly only from '%s': upgrade to %s first (the path: %s)",
                p->to,
                p->target->upgrade_from,
                p->path[0],
                chain);
}

/* ---- the software around the server ---- */

static int gate_node(Plan *p) {
        _cleanup_free_ char *out = NULL, *version = NULL;
        char *argv[] = { (char *)"node", (char *)"--version", NULL };
        SpawnOptions o = { .ret_stdout = &out, .timeout = COMMAND_TIMEOUT, .log_identifier = "node" };
        SemVer v = {};
        int r, status = 0;

        if (!p->target)
                return gate(p, "node", CHECK_SKIPPED, "no release metadata for %s", p->to);
        if (!p->target->node)
                return gate(p, "node", CHECK_SKIPPED, "%s declares no engines.node", p->to);
        r = spawn_run(argv, &o, &status);
        if (r >= 0 && status != 0)
                r = -EPROTO;
        if (r >= 0)
                r = checks_node_version(out, &version);
        if (r == -ENOMEM)
                return r;
        if (r == -EFBIG)
                return gate(
                        p,
                        "node",
                        CHECK_FAIL,
                        "cannot tell the Node.js version: node --version printed more than %d MiB",
                        SPAWN_CAPTURE_MAX_MIB);
        if (r < 0)
                return gate(
                        p,
                        "node",
                        CHECK_FAIL,
                        "cannot tell the Node.js version (node --version): %s",
                        strerror(-r));
        r = semver_parse(version, &v);
        if (r >= 0)
                r = semver_range_satisfies(p->target->node, &v);
        semver_done(&v);
        if (r < 0)
                return gate(
                        p,
                        "node",
                        CHECK_FAIL,
                        "%s's engines.node '%s' is not a valid range",
                        p->to,
                        p->target->node);
        if (r == 0)
                return gate(
                        p,
                        "node",
                        CHECK_FAIL,
                        "Node.js %s does not satisfy %s's engines.node '%s': upgrade Node.js first",
                        version,
                        p->to,
                        p->target->node);
        return gate(
                p, "node", CHECK_PASS, "Node.js %s satisfies engines.node '%s'", version, p->target->node);
}

static int gate_postgres(const Config *c, Plan *p) {
        _cleanup_json_ cJSON *rows = NULL;
        _cleanup_free_ char *error = NULL, *version = NULL;
        const char *num;
        PgTarget t;
        SemVer v = {};
        int r;

        if (!p->target)
                return gate(p, "postgres", CHECK_SKIPPED, "no release metadata for %s", p->to);
        if (!p->target->postgres)
                return gate(p, "postgres", CHECK_SKIPPED, "%s declares no codebolt.postgres", p->to);
        if (helper_pg_target_config(c, c->db_name, &t) < 0)
                return -ENOMEM;
        r = pg_query(&t, "SHOW server_version_num", NULL, 0, &rows, &error);
        if (r < 0)
                return gate(
                        p,
                        "postgres",
                        CHECK_FAIL,
                        "cannot ask PostgreSQL for its version: %s",
                        error ?: strerror(-r));
        num = json_get_string(cJSON_GetArrayItem(rows, 0), "server_version_num");
        r = checks_pg_version(num ? strtol(num, NULL, 10) : 0, &version);
        if (r == -ENOMEM)
                return r;
        if (r >= 0)
                r = semver_parse(version, &v);
        if (r >= 0)
                r = semver_range_satisfies(p->target->postgres, &v);
        semver_done(&v);
        if (r < 0)
                return gate(
                        p,
                        "postgres",
                        CHECK_FAIL,
                        "cannot compare PostgreSQL %s with %s's codebolt.postgres '%s'",
                        strempty(num),
                        p->to,
                        p->target->postgres);
        if (r == 0)
                return gate(
                        p,
                        "postgres",
                        CHECK_FAIL,
                        "PostgreSQL %s does not satisfy %s's codebolt.postgres '%s': upgrade PostgreSQL "
                        "first",
                        version,
                        p->to,
                        p->target->postgres);
        return gate(
                p,
                "postgres",
                CHECK_PASS,
                "PostgreSQL %s satisfies codebolt.postgres '%s'",
                version,
                p->target->postgres);
}

static int gate_clients(const Config *c, Plan *p) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *token = NULL, *url = NULL, *error = NULL, *below = NULL, *active = NULL,
                            *sub = NULL, *login_error = NULL;
        _cleanup_json_ cJSON *clients = NULL;
        long status = 0;
        size_t n = 0;
        int r;

        if (!p->target)
                return gate(p, "clients", CHECK_SKIPPED, "no release metadata for %s", p->to);
        if (p->target->min_client_protocol == METADATA_MALFORMED)
                return gate(
                        p,
                        "clients",
                        CHECK_FAIL,
                        "%s's codebolt.minClientProtocol in %s is malformed: not a whole number from 0 to "
                        "%" PRId64,
                        p->to,
                        p->metadata.source,
                        INT64_MAX);
        if (p->target->min_client_protocol < 0)
                return gate(p, "clients", CHECK_SKIPPED, "%s declares no minClientProtocol", p->to);
        /* a server that does not run has no client connected */
        if (bus_open_system(&bus) >= 0 && bus_unit_get_state(bus, c->server_unit, &active, &sub) >= 0 &&
            !streq(active, "active") && !streq(active, "reloading"))
                return gate(
                        p,
                        "clients",
                        CHECK_SKIPPED,
                        "%s is %s: no client is connected to it",
                        c->server_unit,
                        active);
        r = helper_login(c, &token, &login_error);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return gate(
                        p,
                        "clients",
                        CHECK_FAIL,
                        "cannot ask the server which clients are connected: logging in as the smoke-test "
                        "user failed (%s)",
                        login_error ?: strerror(-r));
        url = helper_server_url_config(c, "/api/admin/clients");
        if (!url)
                return -ENOMEM;
        r = http_json("GET", url, token, NULL, HTTP_TIMEOUT, &status, &clients, &error);
        if (r >= 0 && (status != 200 || !cJSON_IsArray(clients)))
                r = -EBADMSG;
        if (r < 0)
                return gate(
                        p,
                        "clients",
                        CHECK_FAIL,
                        "cannot read the connected clients from %s: %s",
                        url,
                        error
                                ?: status != 200 && status ? "unexpected HTTP status"
                                                           : strerror(-r));
        r = checks_clients_below(clients, p->target->min_client_protocol, &below, &n);
        if (r < 0)
                return r;
        if (n > 0)
                return gate(
                        p,
                        "clients",
                        CHECK_FAIL,
                        "%zu connected client%s speak%s a protocol below %s's minClientProtocol %lld and "
                        "must upgrade first: %s",
                        n,
                        n == 1 ? "" : "s",
                        n == 1 ? "s" : "",
                        p->to,
                        (long long)p->target->min_client_protocol,
                        below);
        return gate(
                p,
                "clients",
                CHECK_PASS,
                "all %d connected clients speak protocol %lld or later",
                cJSON_GetArraySize(clients),
                (long long)p->target->min_client_protocol);
}

/* `codebolt <kind> list --status` of the running release, as the server's user */
static int list_status(const char *cli, const char *user, const char *kind, char **ret) {
        char *argv[] = { (char *)cli, (char *)kind, (char *)"list", (char *)"--status", NULL };
        SpawnOptions o = {
                .ret_stdout = ret,
                .timeout = COMMAND_TIMEOUT,
                .run_as = user,
                .log_identifier = "codebolt",
        };
        int status = 0, r;

        r = spawn_run(argv, &o, &status);
        if (r >= 0 && status != 0) {
                free(*ret);
                *ret = NULL;
                return -EPROTO;
        }
        return r;
}

static int gate_tools(const Config *c, Plan *p) {
        _cleanup_free_ char *cli = paths_install_file("/current/bin/codebolt"), *user = NULL, *tools = NULL,
                            *caps = NULL, *block_t = NULL, *allow_t = NULL, *block_c = NULL, *allow_c = NULL,
                            *user_error = NULL;
        const char *kind = "tool";
        int r;

        if (!cli)
                return -ENOMEM;
        if (access(cli, X_OK) < 0)
                return gate(p, "tools", CHECK_SKIPPED, "the running release has no admin CLI %s", cli);
        r = helper_server_user(c, &user, &user_error);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return gate(
                        p,
                        "tools",
                        CHECK_FAIL,
                        "cannot tell the server's user to run %s as: %s",
                        cli,
                        user_error ?: strerror(-r));
        r = list_status(cli, user, "tool", &tools);
        if (r >= 0) {
                kind = "capability";
                r = list_status(cli, user, "capability", &caps);
        }
        if (r >= 0) {
                kind = "tool";
                r = checks_incompatible(tools, c->allow_incompatible, &block_t, &allow_t);
        }
        if (r >= 0) {
                kind = "capability";
                r = checks_incompatible(caps, c->allow_incompatible, &block_c, &allow_c);
        }
        if (r == -ENOMEM)
                return r;
        if (r == -EFBIG)
                return gate(
                        p,
                        "tools",
                        CHECK_FAIL,
                        "`%s %s list --status` printed more than %d MiB: ended and refused",
                        cli,
                        kind,
                        SPAWN_CAPTURE_MAX_MIB);
        if (r < 0)
                return gate(
                        p,
                        "tools",
                        CHECK_FAIL,
                        "`codebolt %s list --status` failed or printed something else than \"name version "
                        "status\" lines (%s)",
                        kind,
                        strerror(-r));
        if (block_t || block_c)
                return gate(
                        p,
                        "tools",
                        CHECK_FAIL,
                        "incompatible and not allowed: %s%s%s%s%s; update them, or name them in [Policy] "
                        "AllowIncompatible=",
                        block_t ? "tools " : "",
                        strempty(block_t),
                        block_t && block_c ? "; " : "",
                        block_c ? "capabilities " : "",
                        strempty(block_c));
        if (allow_t || allow_c)
                return gate(
                        p,
                        "tools",
                        CHECK_PASS,
                        "incompatible but allowed by AllowIncompatible=: %s%s%s",
                        strempty(allow_t),
                        allow_t && allow_c ? ", " : "",
                        strempty(allow_c));
        return gate(p, "tools", CHECK_PASS, "no tool or capability reports incompatible");
}

/* ---- room for the backup ---- */

static uint64_t tree_bytes;

static int add_file_size(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        if (type == FTW_F)
                tree_bytes += (uint64_t)st->st_size;
        return 0;
}

/* the bytes of the stores, the config file and the key id, as the backup copies them */
static uint64_t store_bytes(const Config *c) {
        tree_bytes = 0;
        STRV_FOREACH (s, c->storage_paths) {
                _cleanup_free_ char *path = paths_rooted(*s);
                if (path)
                        (void)nftw(path, add_file_size, 16, FTW_PHYS | FTW_MOUNT);
        }
        const char *files[] = { c->storage_config, c->master_key_id };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *path = files[i] ? paths_rooted(files[i]) : NULL;
                struct stat st;
                if (path && stat(path, &st) >= 0)
                        tree_bytes += (uint64_t)st.st_size;
        }
        return tree_bytes;
}

/* the bytes free on the file system that holds path or, when it does not exist yet, its nearest
 * existing parent (*ret_where) */
static int free_bytes(const char *path, char **ret_where, uint64_t *ret) {
        _cleanup_free_ char *p = strdup(path);
        struct statvfs s;

        if (!p)
                return -ENOMEM;
        while (statvfs(p, &s) < 0) {
                char *slash = strrchr(p, '/');

                if (errno != ENOENT || !slash || streq(p, "/"))
                        return negative_errno();
                /* "/backups" is missing: try "/" */
                slash[slash == p ? 1 : 0] = 0;
        }
        *ret = (uint64_t)s.f_bavail * s.f_frsize;
        *ret_where = TAKE_PTR(p);
        return 0;
}

static int gate_space(const Config *c, Plan *p) {
        _cleanup_free_ char *dir = paths_rooted(c->backup_directory), *where = NULL, *error = NULL,
                            *need_s = NULL, *free_s = NULL;
        _cleanup_json_ cJSON *rows = NULL;
        const char *params[] = { c->db_name };
        uint64_t db = 0, need, avail = 0;
        const char *size;
        PgTarget t;
        int r;

        if (!dir || helper_pg_target_config(c, "postgres", &t) < 0)
                return -ENOMEM;
        r = pg_query(&t, "SELECT pg_database_size($1) AS size", params, 1, &rows, &error);
        if (r < 0)
                return gate(
                        p,
                        "space",
                        CHECK_FAIL,
                        "cannot ask PostgreSQL the size of database %s: %s",
                        c->db_name,
                        error ?: strerror(-r));
        size = json_get_string(cJSON_GetArrayItem(rows, 0), "size");
        db = size ? strtoull(size, NULL, 10) : 0;
        need = checks_backup_bytes(db, store_bytes(c));
        r = free_bytes(dir, &where, &avail);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return gate(
                        p, "space", CHECK_FAIL, "cannot tell the free space for %s: %s", dir, strerror(-r));
        need_s = backup_manifest_format_bytes(need);
        free_s = backup_manifest_format_bytes(avail);
        if (!need_s || !free_s)
                return -ENOMEM;
        if (avail < need)
                return gate(
                        p,
                        "space",
                        CHECK_FAIL,
                        "the backup needs about %s (database %s and the stores, with margin), but %s has "
                        "only %s free",
                        need_s,
                        c->db_name,
                        where,
                        free_s);
        return gate(
                p, "space", CHECK_PASS, "the backup needs about %s; %s has %s free", need_s, where, free_s);
}

/* Snapshot=delta: PostgreSQL and the role allow a logical slot (docs/architecture.md, "Snapshot=delta").
 * auto decides in backup, and says there once why it takes template. */
static int gate_snapshot(const Config *c, Plan *p) {
        _cleanup_(delta_facts_done) DeltaFacts f = {};
        _cleanup_free_ char *error = NULL, *reason = NULL;
        PgTarget t;
        int r;

        if (c->snapshot != SNAPSHOT_DELTA)
                return gate(
                        p,
                        "snapshot",
                        CHECK_SKIPPED,
                        "Snapshot=%s%s",
                        config_snapshot_mode_to_string(c->snapshot),
                        c->snapshot == SNAPSHOT_AUTO ? ": backup takes delta where PostgreSQL allows it"
                        : c->snapshot == SNAPSHOT_NONE
                                ? ": no restore point at the stop; a full restore brings the database and "
                                  "the stores back to the backup, and what is written after it is lost"
                                : "");
        if (helper_pg_target_config(c, c->db_name, &t) < 0)
                return -ENOMEM;
        r = delta_probe(&t, &f, &error);
        if (r == -ENOMEM)
                return r;
        r = delta_decide(c->snapshot, r < 0 ? NULL : &f, error, &reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return gate(p, "snapshot", CHECK_FAIL, "Snapshot=delta cannot be used: %s", reason);
        return gate(
                p,
                "snapshot",
                CHECK_PASS,
                "Snapshot=delta: wal_level is logical and role %s may make a replication slot",
                f.role);
}

/* ---- production follows staging ---- */

/* with [LoadBalancer] Driver=haproxy: every admin socket answers for this server, so that the drain
 * can take it out (and the rollback give it back) */
static int gate_balancer(const Config *c, Plan *p) {
        _cleanup_free_ char *error = NULL;
        int r;

        if (c->lb_driver != LB_DRIVER_HAPROXY)
                return gate(
                        p,
                        "balancer",
                        CHECK_SKIPPED,
                        "[LoadBalancer] Driver=%s",
                        config_lb_driver_to_string(c->lb_driver));
        r = balancer_check(c, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return gate(
                        p,
                        "balancer",
                        CHECK_FAIL,
                        "the load balancer cannot be driven: %s",
                        error ?: strerror(-r));
        return gate(p, "balancer", CHECK_PASS, "every admin socket answers for backend %s", c->lb_backend);
}

static int gate_staging(const Config *c, Plan *p) {
        _cleanup_free_ char *url = NULL, *body = NULL, *error = NULL, *reason = NULL;
        _cleanup_json_ cJSON *ledger = NULL;
        int r;

        if (c->role != ROLE_PRODUCTION)
                return gate(p, "staging", CHECK_SKIPPED, "[Policy] Role= is not production");
        if (!c->staging_ledger)
                return gate(
                        p,
                        "staging",
                        CHECK_FAIL,
                        "[Policy] Role=production needs StagingLedger= (the staging host's exported "
                        "ledger)");
        url = c->staging_ledger[0] == '/' ? paths_rooted(c->staging_ledger) : strdup(c->staging_ledger);
        if (!url)
                return -ENOMEM;
        r = http_fetch_file(url, &body, NULL, &error);
        if (r < 0)
                return gate(
                        p,
                        "staging",
                        CHECK_FAIL,
                        "cannot read the staging ledger %s: %s",
                        url,
                        error ?: strerror(-r));
        ledger = cJSON_Parse(body);
        if (!cJSON_IsArray(ledger))
                return gate(p, "staging", CHECK_FAIL, "the staging ledger %s is not a JSON array", url);
        r = checks_staging(ledger, p->to, c->bake_time, now_realtime(), &reason);
        if (r < 0)
                return r;
        return gate(p, "staging", (CheckResult)r, "%s (%s)", reason, url);
}

usec_t plan_downtime_bound(const Config *c) {
        const usec_t deadlines[] = {
                c->timeout_drain, c->timeout_migrations, c->timeout_ready, c->timeout_smoke
        };
        usec_t sum = 0;

        for (size_t i = 0; i < ELEMENTSOF(deadlines); i++)
                sum = usec_add(sum, deadlines[i]);
        return sum;
}

/* the downtime to expect, from the ledger, and its bound */
static int plan_downtime(const Config *c, Plan *p) {
        _cleanup_json_ cJSON *ledger = NULL;

        /* an unreadable ledger is the failed-here gate's to report: here it only leaves no estimate */
        (void)ledger_load(c->deployment, &ledger);
        p->downtime_bound = plan_downtime_bound(c);
        return checks_expected_downtime(ledger, &p->expected_downtime, &p->downtime_basis);
}

int plan_make(const Config *c, const char *from, const char *to, Plan *ret) {
        _cleanup_(plan_done) Plan p = { .proceed = true };
        SemVer vfrom = {}, vto = {};
        int r;

        p.from = strdup(from);
        p.to = strdup(to);
        p.gates = calloc(GATE_MAX, sizeof(Gate));
        if (!p.from || !p.to || !p.gates)
                return -ENOMEM;

        r = gate_failed_here(c, &p);
        if (r >= 0 && semver_parse(from, &vfrom) < 0)
                r =
                        gate(&p,
                             "kind",
                             CHECK_FAIL,
                             "the running release '%s' is not named by an exact version",
                             from);
        else if (r >= 0 && (r = semver_parse(to, &vto)) >= 0)
                r = gate_kind(c, &p, &vfrom, &vto);
        if (r >= 0)
                r = gate_published(c, &p);
        if (r >= 0 && vfrom.major + vfrom.minor + vfrom.patch + (vfrom.prerelease != NULL) > 0)
                r = gate_path(&p, &vfrom);
        if (r >= 0)
                r = gate_node(&p);
        if (r >= 0)
                r = gate_postgres(c, &p);
        if (r >= 0)
                r = gate_clients(c, &p);
        if (r >= 0)
                r = gate_tools(c, &p);
        if (r >= 0)
                r = gate_space(c, &p);
        if (r >= 0)
                r = gate_snapshot(c, &p);
        if (r >= 0)
                r = gate_balancer(c, &p);
        if (r >= 0)
                r = gate_staging(c, &p);
        semver_done(&vfrom);
        semver_done(&vto);
        if (r >= 0)
                r = plan_downtime(c, &p);
        if (r < 0)
                return r;
        *ret = p;
        p = (Plan){};
        return 0;
}

const Gate *plan_first_failure(const Plan *p) {
        for (size_t i = 0; i < p->n_gates; i++)
                if (p->gates[i].result == CHECK_FAIL)
                        return &p->gates[i];
        return NULL;
}

void plan_log(const Plan *p) {
        for (size_t i = 0; i < p->n_gates; i++) {
                const Gate *g = &p->gates[i];
                log_full(
                        g->result == CHECK_FAIL ? LOG_ERR : LOG_INFO,
                        0,
                        "preflight: gate %s: %s: %s",
                        g->name,
                        check_result_to_string(g->result),
                        g->reason);
        }
}

static const char *rollback_mode(const Plan *p) {
        return p->breaking ? "a full restore (a breaking migration is among them)"
                           : "a minor rollback (no breaking migration)";
}

/* the site's checks that run after the gates, and after the smoke test */
static void print_hooks(FILE *f) {
        static const char *const stages[] = { HOOKS_PRE_UPGRADE, HOOKS_SMOKE };
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(stages); i++) {
                _cleanup_(hook_list_done) HookList l = {};

                if (hooks_list(stages[i], &l) < 0)
                        continue;
                for (size_t k = 0; k < l.n; k++) {
                        if (l.hooks[k].kind != HOOK_EXECUTABLE)
                                continue;
                        fprintf(f, "  %-11s %s\n", n++ == 0 ? "Hooks:" : "", l.hooks[k].path);
                }
        }
}

/* "  Downtime:   about 3 s (the last upgrade here …); at most 17min by the deadlines" */
static void print_downtime(const Plan *p, FILE *f) {
        _cleanup_free_ char *bound =
                p->downtime_bound == USEC_INFINITY ? NULL : checks_format_duration(p->downtime_bound);

        if (isnan(p->expected_downtime))
                fprintf(f, "  Downtime:   not known yet (%s)", strempty(p->downtime_basis));
        else
                fprintf(f,
                        "  Downtime:   about %.0f s (%s)",
                        p->expected_downtime,
                        strempty(p->downtime_basis));
        if (bound)
                fprintf(f, "; at most %s by the deadlines\n", bound);
        else
                fprintf(f, "; no bound (a deadline is infinite)\n");
}

void plan_print(const Plan *p, FILE *f) {
        const cJSON *m;

        fprintf(f, "Upgrade %s → %s (%s)\n", p->from, p->to, upgrade_kind_to_string(p->kind) ?: "?");
        if (p->metadata.source)
                fprintf(f, "  Metadata:   %s\n", p->metadata.source);
        if (p->path) {
                fprintf(f, "  Path:       %s", p->from);
                STRV_FOREACH (v, p->path)
                        fprintf(f, " → %s", *v);
                fputc('\n', f);
        }
        if (p->target) {
                fprintf(f, "  Migrations: %d new\n", cJSON_GetArraySize(p->migrations));
                cJSON_ArrayForEach (m, p->migrations)
                        fprintf(f,
                                "              %s%s\n",
                                strempty(json_get_string(m, "id")),
                                cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m, "breaking"))
                                        ? ""
                                        : " (breaking)");
                fprintf(f, "  If it fails after the switch: %s\n", rollback_mode(p));
                print_downtime(p, f);
                if (p->target->notes)
                        fprintf(f, "  Notes:      %s\n", p->target->notes);
        }
        print_hooks(f);
        fprintf(f, "  Gates:\n");
        for (size_t i = 0; i < p->n_gates; i++)
                fprintf(f,
                        "    %-7s %-11s %s\n",
                        check_result_to_string(p->gates[i].result),
                        p->gates[i].name,
                        p->gates[i].reason);
        fprintf(f, p->proceed ? "The upgrade would proceed.\n" : "The upgrade would be refused.\n");
}

cJSON *plan_to_json(const Plan *p) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();
        cJSON *gates, *path;

        if (!o || !cJSON_AddStringToObject(o, "from", p->from) || !cJSON_AddStringToObject(o, "to", p->to) ||
            !cJSON_AddStringToObject(o, "kind", upgrade_kind_to_string(p->kind) ?: "unknown") ||
            !cJSON_AddBoolToObject(o, "proceed", p->proceed) ||
            !cJSON_AddItemToObject(
                    o,
                    "metadata",
                    p->metadata.source ? cJSON_CreateString(p->metadata.source) : cJSON_CreateNull()) ||
            !(path = cJSON_AddArrayToObject(o, "path")) ||
            !cJSON_AddItemToObject(
                    o,
                    "migrations",
                    p->migrations ? cJSON_Duplicate(p->migrations, true) : cJSON_CreateArray()) ||
            !cJSON_AddStringToObject(o, "rollback", p->breaking ? "restore" : "minor") ||
            !cJSON_AddItemToObject(
                    o,
                    "expected_downtime_seconds",
                    isnan(p->expected_downtime) ? cJSON_CreateNull()
                                                : cJSON_CreateNumber(p->expected_downtime)) ||
            !cJSON_AddStringToObject(o, "downtime_basis", strempty(p->downtime_basis)) ||
            !cJSON_AddItemToObject(
                    o,
                    "max_downtime_seconds",
                    p->downtime_bound == USEC_INFINITY
                            ? cJSON_CreateNull()
                            : cJSON_CreateNumber((double)(p->downtime_bound / USEC_PER_SEC))) ||
            !(gates = cJSON_AddArrayToObject(o, "gates")))
                return NULL;
        STRV_FOREACH (v, p->path)
                if (!cJSON_AddItemToArray(path, cJSON_CreateString(*v)))
                        return NULL;
        for (size_t i = 0; i < p->n_gates; i++) {
                cJSON *g = cJSON_CreateObject();
                if (!g || !cJSON_AddItemToArray(gates, g) ||
                    !cJSON_AddStringToObject(g, "name", p->gates[i].name) ||
                    !cJSON_AddStringToObject(g, "result", check_result_to_string(p->gates[i].result)) ||
                    !cJSON_AddStringToObject(g, "reason", p->gates[i].reason))
                        return NULL;
        }
        return TAKE_PTR(o);
}
