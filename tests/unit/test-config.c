/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-config.c: values, defaults and the layered load over the trees in tests/fixtures/config/ */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "macro.h"
#include "paths.h"
#include "strv.h"
#include "test-util.h"

#define TREE(name) FIXTURES "/config/" name
#define MIN(n) ((usec_t)(n)*60 * USEC_PER_SEC)
#define HOUR(n) ((usec_t)(n)*3600 * USEC_PER_SEC)

static void assert_strv(char **l, const char *const *expect, size_t n) {
        ck_assert_msg(strv_length(l) == n, "%zu entries, expected %zu", strv_length(l), n);
        for (size_t i = 0; i < n; i++)
                ck_assert_str_eq(l[i], expect[i]);
}

START_TEST(test_parse_bool) {
        static const char *const yes[] = { "yes", "YES", "true", "True", "1", "on", "ON", "y", "t" };
        static const char *const no[] = { "no", "No", "false", "FALSE", "0", "off", "Off", "n", "f" };
        static const char *const bad[] = { "", "maybe", "2", "yes please", " yes", "enable", "-1" };
        bool b;

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                b = false;
                ck_assert_int_eq(config_parse_bool(yes[i], &b), 0);
                ck_assert(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                b = true;
                ck_assert_int_eq(config_parse_bool(no[i], &b), 0);
                ck_assert(!b);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                b = true;
                ck_assert_int_eq(config_parse_bool(bad[i], &b), -EINVAL);
                ck_assert(b);
        }
}
END_TEST

START_TEST(test_parse_size) {
        static const struct {
                const char *s;
                uint64_t bytes;
        } good[] = {
                { "0", 0 },
                { "512", 512 },
                { "64K", 64 << 10 },
                { "256M", UINT64_C(256) << 20 },
                { "256MB", UINT64_C(256) << 20 },
                { "2G", UINT64_C(2) << 30 },
                { "1T", UINT64_C(1) << 40 },
                { "7B", 7 },
        };
        static const char *const bad[] = {
                "", "M", "-1", "1.5G", "10X", "10 M", "10MiB", "1GG", "99999999999999999999", "20000000T"
        };
        uint64_t v;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                ck_assert_msg(config_parse_size(good[i].s, &v) == 0, "%s", good[i].s);
                ck_assert_msg(v == good[i].bytes, "%s", good[i].s);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(config_parse_size(bad[i], &v) < 0, "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(test_parse_timespan) {
        static const struct {
                const char *s;
                usec_t usec;
        } good[] = {
                { "90s", 90 * USEC_PER_SEC },
                { "90", 90 * USEC_PER_SEC },
                { "5min", MIN(5) },
                { "5 min", MIN(5) },
                { "5m", MIN(5) },
                { "5minutes", MIN(5) },
                { "24h", HOUR(24) },
                { "2d", HOUR(48) },
                { "1w", HOUR(24 * 7) },
                { "1h 30min", MIN(90) },
                { "1h30min", MIN(90) },
                { " 1h  30min ", MIN(90) },
                { "1.5h", MIN(90) },
                { "0.5s", USEC_PER_SEC / 2 },
                { "250ms", 250000 },
                { "250msec", 250000 },
                { "7us", 7 },
                { "7usec", 7 },
                { "7µs", 7 },
                { "3sec", 3 * USEC_PER_SEC },
                { "1 second", USEC_PER_SEC },
                { "2hr", HOUR(2) },
                { "1M", (usec_t)2629800 * USEC_PER_SEC },
                { "1y", (usec_t)31557600 * USEC_PER_SEC },
                { "0", 0 },
                { "0s", 0 },
                { "infinity", USEC_INFINITY },
                { " infinity ", USEC_INFINITY },
        };
        static const char *const bad[] = {
                "",        "   ", "soon", "5 mins",      "5x",          "-5s",  "1h -5min",
                "h",       "1.h", ".5h",  "infinity 5s", "5s infinity", "1,5h", "99999999999999999999s",
                "600000y",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                usec_t t = 42;
                ck_assert_msg(config_parse_timespan(good[i].s, &t) == 0, "'%s' should parse", good[i].s);
                ck_assert_msg(
                        t == good[i].usec,
                        "'%s': %llu, expected %llu",
                        good[i].s,
                        (unsigned long long)t,
                        (unsigned long long)good[i].usec);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                usec_t t = 42;
                int r = config_parse_timespan(bad[i], &t);
                ck_assert_msg(r == -EINVAL || r == -ERANGE, "'%s' should be refused, got %d", bad[i], r);
                ck_assert(t == 42);
        }
}
END_TEST

static void assert_defaults(const Config *c) {
        static const char *const stores[] = {
                "/var/lib/codebolt/shadow-git",
                "/var/lib/codebolt/vectordb",
                "/var/lib/codebolt/kg",
                "/var/lib/codebolt/capabilities",
        };

        ck_assert_str_eq(c->deployment, "default");
        ck_assert_str_eq(c->server_unit, "codebolt.service");
        ck_assert_str_eq(c->install_root, "/opt/codebolt");
        ck_assert_ptr_null(c->server_user);
        ck_assert_str_eq(c->package, "@codebolt/server");
        ck_assert_ptr_null(c->registry);
        ck_assert_ptr_null(c->npm_config);
        ck_assert_ptr_null(c->release_metadata);
        ck_assert_uint_eq(c->port, 3456);
        ck_assert_str_eq(c->db_name, "codebolt");
        ck_assert_ptr_null(c->db_connection);
        ck_assert_str_eq(c->db_os_user, "postgres");
        ck_assert_str_eq(c->db_password_credential, "db-password");
        assert_strv(c->storage_paths, stores, ELEMENTSOF(stores));
        ck_assert_str_eq(c->storage_config, "/etc/codebolt/codebolt-server.yaml");
        ck_assert_str_eq(c->master_key_id, "/etc/codebolt/master-key-id");
        ck_assert_str_eq(c->backup_directory, "/backups/codebolt");
        ck_assert_uint_eq(c->backup_keep, 5);
        ck_assert(c->verify_restore);
        ck_assert_int_eq(c->snapshot, SNAPSHOT_TEMPLATE);
        ck_assert_int_eq(c->role, ROLE_UNSET);
        ck_assert_ptr_null(c->staging_ledger);
        ck_assert_str_eq(c->export_ledger, "/var/lib/codebolt-upgrade/public/ledger.json");
        ck_assert(c->bake_time == HOUR(24));
        ck_assert(!c->allow_major);
        ck_assert_int_eq(c->enforce_pin, ENFORCE_PIN_YES);
        ck_assert_int_eq(c->rollback, ROLLBACK_AUTO);
        ck_assert(c->timeout_drain == MIN(10));
        ck_assert(c->timeout_migrations == MIN(30));
        ck_assert(c->timeout_ready == MIN(5));
        ck_assert(c->timeout_smoke == MIN(5));
        ck_assert(c->timeout_hook == MIN(5));
        ck_assert_str_eq(c->smoke_steps, DATADIR "/smoke-steps.json");
        ck_assert_str_eq(c->smoke_user, "smoke");
        ck_assert_str_eq(c->smoke_password_credential, "smoke-password");
        ck_assert_str_eq(c->error_pattern, "^(error|fatal|panic)\\b");
        ck_assert(c->watch_period == HOUR(48));
        ck_assert(c->watch_interval == MIN(5));
        ck_assert(c->watch_baseline_window == HOUR(1));
        ck_assert_uint_eq(c->watch_success_drop, 10);
        ck_assert(c->watch_max_lag == 60 * USEC_PER_SEC);
        ck_assert(c->watch_memory_growth == UINT64_C(256) << 20);
        ck_assert(!c->watch_auto_rollback);
        ck_assert_ptr_null(c->auto_schedule);
        ck_assert_ptr_null(c->notify_url);
        ck_assert_str_eq(c->notify_token_credential, "webhook-token");
        ck_assert(c->timeout_slot == MIN(30));

        /* in no cluster, behind no load balancer */
        ck_assert(!config_cluster_enabled(c));
        ck_assert_ptr_null(c->cluster_name);
        ck_assert_ptr_null(c->cluster_etcd);
        ck_assert_ptr_null(c->cluster_host_id);
        ck_assert_uint_eq(c->cluster_slots, 1);
        ck_assert(c->cluster_min_healthy == 30 * USEC_PER_SEC);
        ck_assert(!c->cluster_auto_revert);
        ck_assert_ptr_null(c->cluster_user);
        ck_assert_str_eq(c->cluster_password_credential, "etcd-password");
        ck_assert_ptr_null(c->cluster_etcd_ca);
        ck_assert_ptr_null(c->cluster_etcd_certificate);
        ck_assert_ptr_null(c->cluster_etcd_key);
        ck_assert_int_eq(c->lb_driver, LB_DRIVER_NONE);
        ck_assert_ptr_null(c->lb_sockets);
        ck_assert_ptr_null(c->lb_backend);
        ck_assert_ptr_null(c->lb_server);
        ck_assert(c->lb_grace == 10 * USEC_PER_SEC);
}

START_TEST(test_defaults) {
        _cleanup_(config_done) Config c = {};

        ck_assert_int_eq(config_init_defaults(&c), 0);
        assert_defaults(&c);
        ck_assert_ptr_null(c.sources);
}
END_TEST

START_TEST(test_load_no_files) {
        _cleanup_(config_done) Config c = {};
        ConfigError e = {};

        /* a root with nothing in it: every layer is missing, which is fine */
        ck_assert_int_eq(config_load(TREE("does-not-exist"), NULL, &c, &e), 0);
        assert_defaults(&c);
        ck_assert_ptr_null(c.sources);
        ck_assert_ptr_null(e.file);
        config_done(&c);

        ck_assert_int_eq(config_load(TREE("does-not-exist"), "default", &c, NULL), 0);
        assert_defaults(&c);
        config_done(&c);

        ck_assert_int_eq(config_load(TREE("does-not-exist"), "", &c, NULL), 0);
        assert_defaults(&c);
}
END_TEST

START_TEST(test_load_layers) {
        static const char *const stores[] = {
                "/var/lib/codebolt/shadow-git",   "/var/lib/codebolt/vectordb", "/var/lib/codebolt/kg",
                "/var/lib/codebolt/capabilities", "/srv/codebolt/extra",
        };
        static const char *const sources[] = {
                TREE("layered/usr/lib/codebolt-upgrade/upgrade.conf"),
                TREE("layered/etc/codebolt-upgrade/upgrade.conf"),
                TREE("layered/etc/codebolt-upgrade/upgrade.conf.d/10-port.conf"),
                TREE("layered/etc/codebolt-upgrade/upgrade.conf.d/20-database.conf"),
                TREE("layered/etc/codebolt-upgrade/upgrade.conf.d/9-last.conf"),
        };
        _cleanup_(config_done) Config c = {};
        ConfigError e = {};

        ck_assert_int_eq(config_load(TREE("layered/"), NULL, &c, &e), 0);
        assert_strv(c.sources, sources, ELEMENTSOF(sources));
        ck_assert_str_eq(c.deployment, "default");
        ck_assert_uint_eq(c.port, 9999);                                  /* the lexically last drop-in */
        ck_assert_str_eq(c.registry, "https://registry.vendor.example/"); /* vendor only */
        ck_assert_uint_eq(c.backup_keep, 7);                              /* /etc over vendor */
        ck_assert(c.timeout_drain == MIN(90));                            /* drop-in over /etc */
        ck_assert_str_eq(c.db_name, "codebolt_prod");
        ck_assert_str_eq(c.smoke_user, "vendor-smoke");
        ck_assert_str_eq(c.server_unit, "codebolt.service");
        assert_strv(c.storage_paths, stores, ELEMENTSOF(stores));
        ck_assert_int_eq(c.role, ROLE_UNSET);
}
END_TEST

START_TEST(test_load_deployment) {
        _cleanup_(config_done) Config c = {};
        ConfigError e = {};

        ck_assert_int_eq(config_load(TREE("layered"), "staging", &c, &e), 0);
        ck_assert_str_eq(c.deployment, "staging");
        ck_assert_uint_eq(c.port, 3457); /* the deployment file comes last */
        ck_assert_str_eq(c.server_unit, "codebolt-staging.service");
        ck_assert_str_eq(c.install_root, "/opt/codebolt-staging"); /* normalized: no trailing / */
        ck_assert_str_eq(c.db_name, "codebolt_staging");
        ck_assert_int_eq(c.role, ROLE_STAGING);
        ck_assert_str_eq(c.export_ledger, "/var/lib/codebolt-upgrade/public/staging-ledger.json");
        ck_assert_uint_eq(c.backup_keep, 7); /* inherited from the host's files */
        ck_assert(c.timeout_drain == MIN(90));
        ck_assert_uint_eq(strv_length(c.sources), 6);
        ck_assert_str_eq(c.sources[5], TREE("layered/etc/codebolt-upgrade/deployments/staging.conf"));
}
END_TEST

START_TEST(test_load_deployment_missing) {
        Config c = { .port = 42 };
        ConfigError e = {};

        /* a deployment without its file does not exist: never fall back to the default's server */
        ck_assert_int_eq(config_load(TREE("layered"), "production2", &c, &e), -ENOENT);
        ck_assert_uint_eq(c.port, 42);
        ck_assert_str_eq(e.file, TREE("layered/etc/codebolt-upgrade/deployments/production2.conf"));
        ck_assert_ptr_nonnull(strstr(e.message, "no such deployment"));
        config_error_done(&e);

        ck_assert_int_eq(config_load(TREE("layered"), "broken", &c, &e), -EINVAL);
        ck_assert_str_eq(e.file, TREE("layered/etc/codebolt-upgrade/deployments/broken.conf"));
        ck_assert_uint_eq(e.line, 2);
        ck_assert_str_eq(e.key, "Server.Port");
        config_error_done(&e);
}
END_TEST

START_TEST(test_list_deployments) {
        static const char *const names[] = { "broken", "staging" };
        _cleanup_strv_free_ char **l = NULL;

        ck_assert_int_eq(config_list_deployments(TREE("layered"), &l), 0);
        assert_strv(l, names, ELEMENTSOF(names));
        strv_free(TAKE_PTR(l));

        ck_assert_int_eq(config_list_deployments(TREE("does-not-exist"), &l), 0);
        ck_assert_ptr_null(l);
}
END_TEST

/* valid() takes every good name, and refuses every bad one and NULL */
static void assert_names(
        bool (*valid)(const char *),
        const char *const *good,
        size_t ngood,
        const char *const *bad,
        size_t nbad) {
        for (size_t i = 0; i < ngood; i++)
                ck_assert_msg(valid(good[i]), "'%s' should be valid", good[i]);
        for (size_t i = 0; i < nbad; i++)
                ck_assert_msg(!valid(bad[i]), "'%s' should be invalid", bad[i]);
        ck_assert(!valid(NULL));
}

START_TEST(test_deployment_names) {
        static const char *const good[] = { "staging", "prod-2", "eu_west", "A1" };
        static const char *const bad[] = {
                "", "../etc", "a/b", ".hidden", "-x", "a.b", "a b", "with@at", "ü"
        };
        Config c = {};
        ConfigError e = {};

        assert_names(config_deployment_name_is_valid, good, ELEMENTSOF(good), bad, ELEMENTSOF(bad));

        /* the default deployment: NULL or "default", nothing else */
        ck_assert(config_deployment_is_default(NULL));
        ck_assert(config_deployment_is_default("default"));
        ck_assert(!config_deployment_is_default("eu"));
        ck_assert(!config_deployment_is_default("Default"));

        ck_assert_int_eq(config_load(TREE("layered"), "../../../etc/passwd", &c, &e), -EINVAL);
        ck_assert_ptr_nonnull(e.message);
        config_error_done(&e);
}
END_TEST

START_TEST(test_load_from_environment) {
        _cleanup_(config_done) Config c = {};

        /* each test runs in its own process (CK_FORK), and paths_root() reads the variable once */
        ck_assert_int_eq(setenv("CODEBOLT_UPGRADE_ROOT", TREE("layered"), 1), 0);
        ck_assert_int_eq(config_load(NULL, NULL, &c, NULL), 0);
        ck_assert_uint_eq(c.port, 9999);
}
END_TEST

START_TEST(test_reset) {
        static const char *const paths[] = { "/srv/only", "/srv/with space", "/srv/third" };
        _cleanup_(config_done) Config c = {};
        ConfigError e = {};

        ck_assert_int_eq(config_load(TREE("reset"), NULL, &c, &e), 0);
        /* Paths= empties the list, later assignments append, duplicates are dropped */
        assert_strv(c.storage_paths, paths, ELEMENTSOF(paths));
        /* an empty assignment restores the built-in default */
        ck_assert_uint_eq(c.port, 3456);
        ck_assert_ptr_null(c.registry);
        ck_assert_str_eq(c.package, "@codebolt/server");
}
END_TEST

START_TEST(test_paths_empty) {
        _cleanup_(config_done) Config c = {};

        ck_assert_int_eq(config_load(TREE("paths-empty"), NULL, &c, NULL), 0);
        ck_assert_uint_eq(strv_length(c.storage_paths), 0);
}
END_TEST

START_TEST(test_allow_incompatible) {
        static const char *const names[] = { "browser", "legacy-tool", "vectordb" };
        _cleanup_(config_done) Config c = {}, d = {};

        ck_assert_int_eq(config_load(TREE("allow-incompatible"), NULL, &c, NULL), 0);
        assert_strv(c.allow_incompatible, names, ELEMENTSOF(names));
        ck_assert_int_eq(config_load(TREE("paths-empty"), NULL, &d, NULL), 0);
        ck_assert_ptr_null(d.allow_incompatible);
}
END_TEST

START_TEST(test_habits) {
        _cleanup_(config_done) Config c = {};
        ConfigError e = {};

        ck_assert_int_eq(config_load(TREE("habits"), NULL, &c, &e), 0);
        /* indented lines are ordinary lines, not continuations of the previous value */
        ck_assert_uint_eq(c.port, 4001);
        ck_assert_str_eq(c.server_unit, "codebolt-alt.service");
        ck_assert_str_eq(c.package, "@codebolt/server");
        ck_assert_str_eq(
                c.db_connection,
                "host=db.internal port=5433 dbname=codebolt user=codebolt sslmode=verify-full");
        ck_assert_int_eq(c.role, ROLE_PRODUCTION);
        ck_assert_str_eq(c.staging_ledger, "https://staging.example/ledger.json");
        ck_assert(c.bake_time == HOUR(60));
        ck_assert(c.allow_major);
        ck_assert_int_eq(c.enforce_pin, ENFORCE_PIN_WARN);
        ck_assert_int_eq(c.rollback, ROLLBACK_MINOR_ONLY);
        ck_assert_str_eq(c.error_pattern, "^(ERROR|FATAL)[: ]");
        ck_assert(c.watch_period == USEC_INFINITY);
        ck_assert(c.watch_auto_rollback);
        ck_assert_str_eq(c.auto_schedule, "Mon..Fri 03:00");
        ck_assert_int_eq(c.auto_track, TRACK_MINOR);
        ck_assert_str_eq(c.auto_channel, "next");
        ck_assert(c.auto_randomized_delay == MIN(30));
        ck_assert_str_eq(c.notify_url, "https://hooks.example/codebolt");
        ck_assert_str_eq(c.notify_token_credential, "hook-token");
        ck_assert(c.notify_announce_lead == MIN(15));
}
END_TEST

START_TEST(test_bom) {
        _cleanup_(config_done) Config c = {};

        ck_assert_int_eq(config_load(TREE("bom"), NULL, &c, NULL), 0);
        ck_assert_uint_eq(c.port, 4002);
}
END_TEST

static const struct {
        const char *tree, *file; /* file relative to the tree */
        unsigned line;
        const char *key, *message; /* message: a substring */
} errors[] = {
        { "error-unknown-key", "etc/codebolt-upgrade/upgrade.conf", 5, "Server.Colour", "unknown key" },
        { "error-unknown-key-dropin",
          "etc/codebolt-upgrade/upgrade.conf.d/30-typo.conf",
          2,
          "Backup.Kepp",
          "unknown key" },
        { "error-unknown-section", "etc/codebolt-upgrade/upgrade.conf", 3, "Servr", "unknown section" },
        { "error-bad-bool",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "Backup.VerifyRestore",
          "expected yes/no" },
        { "error-bad-timespan",
          "etc/codebolt-upgrade/upgrade.conf",
          3,
          "Timeouts.Drain",
          "expected a time span like 90s, 5min, 24h" },
        { "error-bad-enum",
          "usr/lib/codebolt-upgrade/upgrade.conf",
          2,
          "Backup.Snapshot",
          "expected one of template|dump|none|delta|auto" },
        { "error-bad-port", "etc/codebolt-upgrade/upgrade.conf", 2, "Server.Port", "1 to 65535" },
        { "error-bad-keep", "etc/codebolt-upgrade/upgrade.conf", 2, "Backup.Keep", "1 or more" },
        { "error-outside-section",
          "etc/codebolt-upgrade/upgrade.conf",
          1,
          "Port",
          "outside of any [Section]" },
        { "error-inline-comment",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          NULL,
          "comments go on their own line" },
        { "error-syntax", "etc/codebolt-upgrade/upgrade.conf", 3, NULL, "expected Key=Value" },
        { "error-colon", "etc/codebolt-upgrade/upgrade.conf", 2, NULL, "expected Key=Value" },
        { "error-section-junk", "etc/codebolt-upgrade/upgrade.conf", 1, NULL, "[Section]" },
        { "error-password",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "Database.Connection",
          "without a password" },
        { "error-relative-path", "etc/codebolt-upgrade/upgrade.conf", 2, "Storage.Paths", "absolute paths" },
        { "error-allow-incompatible",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "Policy.AllowIncompatible",
          "tool or capability names" },
        { "error-regex",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "Smoke.ErrorPattern",
          "regular expression" },
        { "error-interval", "etc/codebolt-upgrade/upgrade.conf", 2, "Watch.Interval", "above 0" },
        { "error-unit", "etc/codebolt-upgrade/upgrade.conf", 2, "Server.Unit", "service unit name" },
        { "error-credential",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "Database.PasswordCredential",
          "credential name" },
        { "error-long-line", "etc/codebolt-upgrade/upgrade.conf", 2, NULL, "line longer than" },
        { "error-sslpassword",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "Database.Connection",
          "it sets sslpassword=, which libpq marks secret" },
        { "error-uri-password",
          "etc/codebolt-upgrade/upgrade.conf",
          3,
          "Database.Connection",
          "it sets password (the user:password@ of the URI" },
        { "error-uri-sslpassword",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "Database.Connection",
          "it sets sslpassword=" },
        { "error-regex-repeat",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "Smoke.ErrorPattern",
          "regular expression (regex(7)): a repetition operator right after another at character 3" },
        { "error-regex-count",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "Smoke.ErrorPattern",
          "a repetition count above 255 at character 17" },
        { "error-regex-unroll",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "Smoke.ErrorPattern",
          "its repetitions unroll to more than 512 positions" },
        { "error-regex-nesting",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "Smoke.ErrorPattern",
          "parentheses nested deeper than 16 (at character 17)" },
        { "error-regex-backref",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "Smoke.ErrorPattern",
          "a back-reference (\\1)" },
        /* the rules between keys blame the key at fault where it was last set, once every layer is read */
        { "error-cluster-no-etcd",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "Cluster.Name",
          "a cluster needs at least one Etcd= URL (an empty Etcd= empties the list)" },
        { "error-etcd-no-name",
          "etc/codebolt-upgrade/upgrade.conf.d/50-etcd.conf",
          3,
          "Cluster.Etcd",
          "Etcd= needs [Cluster] Name=, the cluster whose keys it holds (a host in no cluster sets "
          "neither)" },
        { "error-etcd-certificate",
          "etc/codebolt-upgrade/upgrade.conf",
          4,
          "Cluster.EtcdCertificate",
          "EtcdCertificate= needs EtcdKey=, the client certificate's key (both or neither)" },
        { "error-etcd-key",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "Cluster.EtcdKey",
          "EtcdKey= needs EtcdCertificate=, the client certificate (both or neither)" },
        { "error-haproxy-socket",
          "etc/codebolt-upgrade/upgrade.conf",
          3,
          "LoadBalancer.Driver",
          "Driver=haproxy needs Socket=, at least one HAProxy admin socket" },
        { "error-haproxy-backend",
          "etc/codebolt-upgrade/upgrade.conf",
          2,
          "LoadBalancer.Driver",
          "Driver=haproxy needs Backend=, the HAProxy backend this server is in" },
};

START_TEST(test_errors) {
        _cleanup_free_ char *root = NULL, *file = NULL;
        Config c = { .port = 42 };
        ConfigError e = {};
        int r;

        ck_assert_int_ge(asprintf(&root, "%s/config/%s", FIXTURES, errors[_i].tree), 0);
        ck_assert_int_ge(asprintf(&file, "%s/%s", root, errors[_i].file), 0);

        r = config_load(root, NULL, &c, &e);
        ck_assert_msg(r == -EINVAL, "%s: %d", errors[_i].tree, r);
        ck_assert_uint_eq(c.port, 42); /* *ret untouched */
        ck_assert_str_eq(e.file, file);
        ck_assert_uint_eq(e.line, errors[_i].line);
        if (errors[_i].key)
                ck_assert_str_eq(e.key, errors[_i].key);
        else
                ck_assert_ptr_null(e.key);
        ck_assert_msg(
                e.message && strstr(e.message, errors[_i].message),
                "%s: message '%s'",
                errors[_i].tree,
                strempty(e.message));
        config_error_done(&e);
        ck_assert_ptr_null(e.file);
}
END_TEST

/* the message says why a secret may not be in Connection= and where it goes, and never repeats it */
START_TEST(test_connection_secret_message) {
        _cleanup_(config_error_done) ConfigError e = {};
        Config c = {};

        ck_assert_int_eq(config_load(TREE("error-sslpassword"), NULL, &c, &e), -EINVAL);
        ck_assert_ptr_nonnull(strstr(e.message, "sslpassword"));
        ck_assert_ptr_nonnull(strstr(e.message, "/proc/<pid>/cmdline"));
        ck_assert_ptr_nonnull(strstr(e.message, "pg_dump"));
        ck_assert_ptr_nonnull(strstr(e.message, "[Database] PasswordCredential="));
        ck_assert_ptr_nonnull(strstr(e.message, "mode 0600 under /etc/codebolt-upgrade/credentials/"));
        ck_assert_ptr_null(strstr(e.message, "hunter2"));
}
END_TEST

/* base/name, a root whose /etc/codebolt-upgrade/upgrade.conf holds text */
static char *conf_root(const char *base, const char *name, const char *text) {
        _cleanup_free_ char *dir = NULL, *file = NULL;
        char *root;
        FILE *f;

        ck_assert_int_ge(asprintf(&root, "%s/%s", base, name), 0);
        ck_assert_int_ge(asprintf(&dir, "%s/etc/codebolt-upgrade", root), 0);
        ck_assert_int_ge(asprintf(&file, "%s/upgrade.conf", dir), 0);
        ck_assert_int_eq(paths_mkdir_p(dir, 0755), 0);
        f = fopen(file, "we");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        return root;
}

/* every option this libpq marks secret, in both forms, without a list of them here to go stale; and
 * the ordinary options still pass */
START_TEST(test_connection_secrets_from_libpq) {
        _cleanup_rm_rf_ char *base = strdup("/var/tmp/test-config.XXXXXX");
        PQconninfoOption *defaults = PQconndefaults();
        size_t secrets = 0;

        ck_assert_ptr_nonnull(base);
        ck_assert_ptr_nonnull(mkdtemp(base));
        ck_assert_ptr_nonnull(defaults);
        for (PQconninfoOption *o = defaults; o->keyword; o++) {
                _cleanup_free_ char *kv = NULL, *uri = NULL, *want = NULL;
                bool secret = o->dispchar && strchr(o->dispchar, '*');
                const char *forms[2];

                if (!secret && !strstr("host port user sslmode passfile application_name", o->keyword))
                        continue;
                ck_assert_int_ge(asprintf(&kv, "[Database]\nConnection=host=db %s=s3cret\n", o->keyword), 0);
                ck_assert_int_ge(
                        asprintf(
                                &uri,
                                "[Database]\nConnection=postgresql://db/codebolt?%s=s3cret\n",
                                o->keyword),
                        0);
                ck_assert_int_ge(asprintf(&want, "it sets %s", o->keyword), 0);
                forms[0] = kv;
                forms[1] = uri;
                for (size_t i = 0; i < ELEMENTSOF(forms); i++) {
                        _cleanup_free_ char *root = conf_root(base, o->keyword, forms[i]);
                        _cleanup_(config_error_done) ConfigError e = {};
                        Config c = {};
                        int r = config_load(root, NULL, &c, &e);

                        if (!secret) {
                                ck_assert_msg(r == 0, "%s refused: %s", forms[i], strempty(e.message));
                                config_done(&c);
                                continue;
                        }
                        ck_assert_msg(r == -EINVAL, "%s accepted", forms[i]);
                        ck_assert_str_eq(e.key, "Database.Connection");
                        ck_assert_uint_eq(e.line, 2);
                        ck_assert_msg(strstr(e.message, want), "%s: %s", forms[i], e.message);
                        ck_assert_ptr_null(strstr(e.message, "s3cret"));
                }
                secrets += secret;
        }
        PQconninfoFree(defaults);
        /* password and sslpassword at least */
        ck_assert_uint_ge(secrets, 2);
}
END_TEST

START_TEST(test_cluster) {
        static const char *const etcd[] = {
                "http://127.0.0.3:2379",
                "https://etcd-1.example:2379", /* without its trailing / */
                "https://[fd00::3]:2379",
        };
        static const char *const sockets[] = {
                "/run/haproxy/admin.sock", /* normalized */
                "tcp:127.0.0.10:9999",
                "tcp:[::1]:9999",
        };
        _cleanup_(config_done) Config c = {};
        ConfigError e = {};

        ck_assert_int_eq(config_load(TREE("cluster"), NULL, &c, &e), 0);
        ck_assert(config_cluster_enabled(&c));
        ck_assert_str_eq(c.cluster_name, "codebolt-eu.prod_1");
        assert_strv(c.cluster_etcd, etcd, ELEMENTSOF(etcd));
        ck_assert_str_eq(c.cluster_host_id, "host-11");
        ck_assert_uint_eq(c.cluster_slots, 2);
        ck_assert(c.cluster_min_healthy == 90 * USEC_PER_SEC);
        ck_assert(c.cluster_auto_revert);
        ck_assert_str_eq(c.cluster_user, "codebolt-upgrade");
        ck_assert_str_eq(c.cluster_password_credential, "etcd-eu");
        ck_assert_str_eq(c.cluster_etcd_ca, "etcd-ca.pem");
        ck_assert_str_eq(c.cluster_etcd_certificate, "etcd-client.pem");
        ck_assert_str_eq(c.cluster_etcd_key, "etcd-client.key");
        ck_assert_int_eq(c.lb_driver, LB_DRIVER_HAPROXY);
        assert_strv(c.lb_sockets, sockets, ELEMENTSOF(sockets));
        ck_assert_str_eq(c.lb_backend, "codebolt");
        ck_assert_str_eq(c.lb_server, "codebolt-11");
        ck_assert(c.lb_grace == 4 * USEC_PER_SEC);
        ck_assert(c.timeout_slot == HOUR(2));
        /* the rest is untouched */
        ck_assert_uint_eq(c.port, 3456);
        ck_assert(c.timeout_drain == MIN(10));
}
END_TEST

START_TEST(test_cluster_dropin) {
        static const char *const etcd[] = { "https://etcd-new.example:2379", "http://127.0.0.3:2379" };
        static const char *const sockets[] = { "tcp:[::1]:9999" };
        _cleanup_(config_done) Config c = {};
        ConfigError e = {};

        ck_assert_int_eq(config_load(TREE("cluster-dropin"), NULL, &c, &e), 0);
        ck_assert_uint_eq(strv_length(c.sources), 3);
        ck_assert_str_eq(c.cluster_name, "codebolt");
        /* an empty Etcd= drops /etc's endpoints, later ones append, duplicates are dropped */
        assert_strv(c.cluster_etcd, etcd, ELEMENTSOF(etcd));
        assert_strv(c.lb_sockets, sockets, ELEMENTSOF(sockets));
        /* an empty assignment restores the default */
        ck_assert_ptr_null(c.cluster_host_id);
        ck_assert_uint_eq(c.cluster_slots, 1);
        ck_assert_int_eq(c.lb_driver, LB_DRIVER_HAPROXY);
        ck_assert_str_eq(c.lb_backend, "codebolt");
        ck_assert_ptr_null(c.lb_server);
}
END_TEST

/* Snapshot=delta and auto: the restore point from a logical slot (docs/architecture.md) */
START_TEST(test_snapshot_delta_auto) {
        _cleanup_(config_done) Config a = {}, d = {};
        ConfigError e = {};

        ck_assert_int_eq(config_load(TREE("snapshot-auto"), NULL, &a, &e), 0);
        ck_assert_int_eq(a.snapshot, SNAPSHOT_AUTO);
        ck_assert_int_eq(config_load(TREE("snapshot-delta"), NULL, &d, &e), 0);
        ck_assert_int_eq(d.snapshot, SNAPSHOT_DELTA);
        ck_assert_str_eq(config_snapshot_mode_to_string(SNAPSHOT_DELTA), "delta");
        ck_assert_str_eq(config_snapshot_mode_to_string(SNAPSHOT_AUTO), "auto");
}
END_TEST

/* one host behind a balancer: [LoadBalancer] without [Cluster] */
START_TEST(test_load_balancer_alone) {
        _cleanup_(config_done) Config c = {};
        ConfigError e = {};

        ck_assert_int_eq(config_load(TREE("lb-only"), NULL, &c, &e), 0);
        ck_assert(!config_cluster_enabled(&c));
        ck_assert_ptr_null(c.cluster_etcd);
        ck_assert_int_eq(c.lb_driver, LB_DRIVER_HEALTH);
        ck_assert(c.lb_grace == 20 * USEC_PER_SEC);
        ck_assert(!config_cluster_enabled(NULL));
}
END_TEST

/* [Server] Address=: where the server answers, as the URLs take it */
START_TEST(test_server_address) {
        static const struct {
                const char *value, *stored;
        } good[] = {
                { "127.0.0.11", "127.0.0.11" },
                { "codebolt-1.example", "codebolt-1.example" },
                { "::1", "[::1]" },
                { "[fd00::11]", "[fd00::11]" },
        };
        _cleanup_rm_rf_ char *base = strdup("/var/tmp/test-config.XXXXXX");
        _cleanup_(config_done) Config defaults = {};

        ck_assert_ptr_nonnull(base);
        ck_assert_ptr_nonnull(mkdtemp(base));
        ck_assert_int_eq(config_init_defaults(&defaults), 0);
        ck_assert_str_eq(config_server_address(&defaults), "127.0.0.1");

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ char *text = NULL, *root = NULL, *name = NULL;
                _cleanup_(config_error_done) ConfigError e = {};
                _cleanup_(config_done) Config c = {};

                ck_assert_int_ge(asprintf(&text, "[Server]\nAddress=%s\n", good[i].value), 0);
                ck_assert_int_ge(asprintf(&name, "root%zu", i), 0);
                root = conf_root(base, name, text);
                ck_assert_int_eq(config_load(root, NULL, &c, &e), 0);
                ck_assert_str_eq(config_server_address(&c), good[i].stored);
        }
}
END_TEST

START_TEST(test_cluster_ids) {
        static const char *const good[] = {
                "codebolt",
                "eu-west.prod_1",
                "0",
                "A",
                "x23456789012345678901234567890123456789012345678901234567890123", /* 63 */
        };
        static const char *const bad[] = {
                "",
                "-codebolt",
                ".codebolt",
                "_codebolt",
                "code bolt",
                "a/b",
                "a:b",
                "ü",
                "x234567890123456789012345678901234567890123456789012345678901234", /* 64 */
        };

        assert_names(config_cluster_id_is_valid, good, ELEMENTSOF(good), bad, ELEMENTSOF(bad));
}
END_TEST

#define EXPECT_CLUSTER_NAME \
        "expected a cluster name: a letter or digit, then letters, digits, ., _ and - (at most 63)"
#define EXPECT_HOST_ID "expected a host id: a letter or digit, then letters, digits, ., _ and - (at most 63)"
#define EXPECT_ETCD                                                                                         \
        "expected http://HOST:PORT or https://HOST:PORT URLs (port 1 to 65535, no user or path) separated " \
        "by "                                                                                               \
        "spaces"
#define EXPECT_SLOTS "expected a whole number from 1 to 64"
#define EXPECT_ADDRESS "expected a host name, an IPv4 address or an IPv6 address"
#define EXPECT_FINITE "expected a time span like 10s, 1min (not infinity)"
#define EXPECT_CREDENTIAL "expected a credential name: a file name in /etc/codebolt-upgrade/credentials/"
#define EXPECT_SOCKET                                                                                     \
        "expected HAProxy admin sockets separated by spaces: absolute paths or tcp:HOST:PORT (port 1 to " \
        "65535)"

/* each bad value of the cluster keys, alone on line 2 of upgrade.conf, and the exact message */
static const struct {
        const char *section, *assignment, *key, *message;
} cluster_bad[] = {
        { "Server", "Address=-host", "Server.Address", EXPECT_ADDRESS },
        { "Server", "Address=[::1", "Server.Address", EXPECT_ADDRESS },
        { "Server", "Address=fe80::1%eth0", "Server.Address", EXPECT_ADDRESS },
        { "Server", "Address=host name", "Server.Address", EXPECT_ADDRESS },
        { "Cluster", "Name=-codebolt", "Cluster.Name", EXPECT_CLUSTER_NAME },
        { "Cluster",
          "Name=x234567890123456789012345678901234567890123456789012345678901234",
          "Cluster.Name",
          EXPECT_CLUSTER_NAME },
        { "Cluster", "Name=code/bolt", "Cluster.Name", EXPECT_CLUSTER_NAME },
        { "Cluster", "Etcd=ftp://x", "Cluster.Etcd", EXPECT_ETCD },
        { "Cluster", "Etcd=ftp://etcd.example:2379", "Cluster.Etcd", EXPECT_ETCD },
        { "Cluster", "Etcd=etcd.example:2379", "Cluster.Etcd", EXPECT_ETCD },
        { "Cluster", "Etcd=http://etcd.example", "Cluster.Etcd", EXPECT_ETCD },
        { "Cluster", "Etcd=http://etcd.example:", "Cluster.Etcd", EXPECT_ETCD },
        { "Cluster", "Etcd=http://etcd.example:0", "Cluster.Etcd", EXPECT_ETCD },
        { "Cluster", "Etcd=http://127.0.0.3:2379 http://etcd.example:65536", "Cluster.Etcd", EXPECT_ETCD },
        { "Cluster", "Etcd=http://etcd.example:2379/v3", "Cluster.Etcd", EXPECT_ETCD },
        { "Cluster", "Etcd=http://root:s3cret@etcd.example:2379", "Cluster.Etcd", EXPECT_ETCD },
        { "Cluster", "Etcd=http://:2379", "Cluster.Etcd", EXPECT_ETCD },
        { "Cluster", "Etcd=http://[fd00::3:2379", "Cluster.Etcd", EXPECT_ETCD },
        { "Cluster", "Etcd=http://[]:2379", "Cluster.Etcd", EXPECT_ETCD },
        { "Cluster", "Etcd=http://-etcd:2379", "Cluster.Etcd", EXPECT_ETCD },
        { "Cluster", "HostId=host 11", "Cluster.HostId", EXPECT_HOST_ID },
        { "Cluster", "HostId=.host", "Cluster.HostId", EXPECT_HOST_ID },
        { "Cluster", "Slots=0", "Cluster.Slots", EXPECT_SLOTS },
        { "Cluster", "Slots=65", "Cluster.Slots", EXPECT_SLOTS },
        { "Cluster", "Slots=-1", "Cluster.Slots", EXPECT_SLOTS },
        { "Cluster", "Slots=two", "Cluster.Slots", EXPECT_SLOTS },
        { "Cluster", "MinHealthy=infinity", "Cluster.MinHealthy", EXPECT_FINITE },
        { "Cluster", "MinHealthy=soon", "Cluster.MinHealthy", EXPECT_FINITE },
        { "Cluster", "AutoRevert=maybe", "Cluster.AutoRevert", "expected yes/no" },
        { "Cluster", "User=-root", "Cluster.User", "expected a user name" },
        { "Cluster", "PasswordCredential=../etcd", "Cluster.PasswordCredential", EXPECT_CREDENTIAL },
        { "Cluster", "EtcdCA=/etc/ssl/etcd-ca.pem", "Cluster.EtcdCA", EXPECT_CREDENTIAL },
        { "Cluster", "EtcdCertificate=.client.pem", "Cluster.EtcdCertificate", EXPECT_CREDENTIAL },
        { "Cluster", "EtcdKey=keys/client.key", "Cluster.EtcdKey", EXPECT_CREDENTIAL },
        { "LoadBalancer", "Driver=f5", "LoadBalancer.Driver", "expected one of haproxy|health|none" },
        { "LoadBalancer", "Driver=HAProxy", "LoadBalancer.Driver", "expected one of haproxy|health|none" },
        { "LoadBalancer", "Socket=relative/path", "LoadBalancer.Socket", EXPECT_SOCKET },
        { "LoadBalancer", "Socket=/run/haproxy/../admin.sock", "LoadBalancer.Socket", EXPECT_SOCKET },
        { "LoadBalancer", "Socket=tcp:host:99999", "LoadBalancer.Socket", EXPECT_SOCKET },
        { "LoadBalancer", "Socket=tcp:host:0", "LoadBalancer.Socket", EXPECT_SOCKET },
        { "LoadBalancer", "Socket=tcp:host", "LoadBalancer.Socket", EXPECT_SOCKET },
        { "LoadBalancer", "Socket=tcp::9999", "LoadBalancer.Socket", EXPECT_SOCKET },
        { "LoadBalancer", "Socket=udp:host:9999", "LoadBalancer.Socket", EXPECT_SOCKET },
        { "LoadBalancer", "Socket=ipv4@127.0.0.10:9999", "LoadBalancer.Socket", EXPECT_SOCKET },
        { "LoadBalancer",
          "Backend=code/bolt",
          "LoadBalancer.Backend",
          "expected an HAProxy backend name: letters, digits, ., _, : and -" },
        { "LoadBalancer",
          "Server=codebolt#11",
          "LoadBalancer.Server",
          "expected an HAProxy server name: letters, digits, ., _, : and -" },
        { "LoadBalancer", "Grace=infinity", "LoadBalancer.Grace", EXPECT_FINITE },
        { "Timeouts", "Slot=soon", "Timeouts.Slot", "expected a time span like 90s, 5min, 24h" },
};

START_TEST(test_cluster_bad_values) {
        _cleanup_rm_rf_ char *base = strdup("/var/tmp/test-config.XXXXXX");
        _cleanup_free_ char *text = NULL, *root = NULL, *file = NULL;
        _cleanup_(config_error_done) ConfigError e = {};
        Config c = { .port = 42 };

        ck_assert_ptr_nonnull(base);
        ck_assert_ptr_nonnull(mkdtemp(base));
        ck_assert_int_ge(
                asprintf(&text, "[%s]\n%s\n", cluster_bad[_i].section, cluster_bad[_i].assignment), 0);
        root = conf_root(base, "root", text);
        ck_assert_int_ge(asprintf(&file, "%s/etc/codebolt-upgrade/upgrade.conf", root), 0);

        ck_assert_msg(config_load(root, NULL, &c, &e) == -EINVAL, "%s accepted", cluster_bad[_i].assignment);
        ck_assert_uint_eq(c.port, 42);
        ck_assert_str_eq(e.file, file);
        ck_assert_uint_eq(e.line, 2);
        ck_assert_str_eq(e.key, cluster_bad[_i].key);
        ck_assert_str_eq(e.message, cluster_bad[_i].message);
}
END_TEST

START_TEST(test_enum_strings) {
        ck_assert_str_eq(config_snapshot_mode_to_string(SNAPSHOT_DUMP), "dump");
        ck_assert_ptr_null(config_role_to_string(ROLE_UNSET));
        ck_assert_str_eq(config_role_to_string(ROLE_PRODUCTION), "production");
        ck_assert_str_eq(config_enforce_pin_to_string(ENFORCE_PIN_WARN), "warn");
        ck_assert_str_eq(config_rollback_policy_to_string(ROLLBACK_RESTORE_ALWAYS), "restore-always");
        ck_assert_str_eq(config_auto_track_to_string(TRACK_MINOR), "minor");
        ck_assert_ptr_null(config_auto_track_to_string((AutoTrack)7));
        ck_assert_str_eq(config_lb_driver_to_string(LB_DRIVER_NONE), "none");
        ck_assert_str_eq(config_lb_driver_to_string(LB_DRIVER_HAPROXY), "haproxy");
        ck_assert_str_eq(config_lb_driver_to_string(LB_DRIVER_HEALTH), "health");
}
END_TEST

static Suite *config_suite(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_parse_bool);
        tcase_add_test(tc, test_parse_timespan);
        tcase_add_test(tc, test_parse_size);
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_load_no_files);
        tcase_add_test(tc, test_load_layers);
        tcase_add_test(tc, test_load_deployment);
        tcase_add_test(tc, test_load_deployment_missing);
        tcase_add_test(tc, test_list_deployments);
        tcase_add_test(tc, test_deployment_names);
        tcase_add_test(tc, test_load_from_environment);
        tcase_add_test(tc, test_reset);
        tcase_add_test(tc, test_paths_empty);
        tcase_add_test(tc, test_allow_incompatible);
        tcase_add_test(tc, test_habits);
        tcase_add_test(tc, test_bom);
        tcase_add_loop_test(tc, test_errors, 0, ELEMENTSOF(errors));
        tcase_add_test(tc, test_cluster);
        tcase_add_test(tc, test_cluster_dropin);
        tcase_add_test(tc, test_load_balancer_alone);
        tcase_add_test(tc, test_cluster_ids);
        tcase_add_loop_test(tc, test_cluster_bad_values, 0, ELEMENTSOF(cluster_bad));
        tcase_add_test(tc, test_server_address);
        tcase_add_test(tc, test_enum_strings);
        tcase_add_test(tc, test_snapshot_delta_auto);
        tcase_add_test(tc, test_connection_secret_message);
        tcase_add_test(tc, test_connection_secrets_from_libpq);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(config_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
