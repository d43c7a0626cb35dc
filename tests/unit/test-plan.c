/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-plan.c: plan module (helper layer): the gates of an upgrade against fixture release metadata, with
 * no server, no database and no systemd (each of those gates fails or is skipped, saying why) */
#define _GNU_SOURCE
#include <check.h>

#include "test-root.h"
#include "ledger.h"
#include "json-util.h"
#include "macro.h"
#include "metadata-ladder.h"
#include "paths.h"
#include "plan.h"
#include "strv.h"
#include "state.h"

/* 1.4.0 → 1.5.0 is direct, 1.3.0 → 1.5.0 goes through 1.4.0, 2.0.0 is a major; none declares
 * engines.node, codebolt.postgres or minClientProtocol, so those gates are skipped without a server */
#define METADATA                                                                                      \
        "{\"versions\": {\"1.3.0\": {}, \"1.4.0\": {\"codebolt\": {\"upgradeFrom\": \">=1.3.0\"}},"   \
        " \"1.5.0\": {\"codebolt\": {\"upgradeFrom\": \">=1.4.0\", \"migrations\": [{\"id\": \"m1\"," \
        " \"breaking\": false}]}}, \"2.0.0\": {}}}"

static const char *const gate_names[] = { "failed-here", "kind",     "published", "path",
                                          "node",        "postgres", "clients",   "tools",
                                          "space",       "snapshot", "balancer",  "staging" };

/* a Config of its own deployment, reading doc (NULL: METADATA) from a file under the root; the database
 * is a port nobody listens on */
static void plan_config(Config *c, const char *deployment, const char *doc) {
        _cleanup_free_ char *file = NULL, *rooted = NULL, *srv = paths_rooted("/srv"),
                            *state = paths_state_dir(deployment);

        ck_assert_int_eq(config_init_defaults(c), 0);
        ck_assert_int_ge(asprintf(&file, "/srv/%s-metadata.json", deployment), 0);
        rooted = paths_rooted(file);
        ck_assert_int_eq(paths_mkdir_p(srv, 0755), 0);
        ck_assert_int_eq(paths_mkdir_p(state, 0700), 0);
        ck_assert_int_eq(state_write_string_atomic(rooted, doc ?: METADATA, 0644), 0);

        free(c->deployment);
        c->deployment = strdup(deployment);
        free(c->release_metadata);
        c->release_metadata = TAKE_PTR(file);
        free(c->db_connection);
        c->db_connection = strdup("host=127.0.0.1 port=1 connect_timeout=5");
        free(c->db_os_user);
        c->db_os_user = NULL;
        ck_assert_ptr_nonnull(c->deployment);
        ck_assert_ptr_nonnull(c->db_connection);
}

static const Gate *find_gate(const Plan *p, const char *name) {
        for (size_t i = 0; i < p->n_gates; i++)
                if (streq(p->gates[i].name, name))
                        return &p->gates[i];
        return NULL;
}

static void assert_gate(const Plan *p, const char *name, CheckResult result, const char *says) {
        const Gate *g = find_gate(p, name);

        ck_assert_msg(g, "no gate %s", name);
        ck_assert_msg(
                g->result == result,
                "gate %s: %s, not %s: %s",
                name,
                check_result_to_string(g->result),
                check_result_to_string(result),
                g->reason);
        if (says)
                ck_assert_msg(
                        strstr(g->reason, says), "gate %s: '%s' does not say '%s'", name, g->reason, says);
}

START_TEST(test_gate_names) {
        _cleanup_(config_done) Config c = {};
        _cleanup_(plan_done) Plan p = {};

        plan_config(&c, "names", NULL);
        ck_assert_int_eq(plan_make(&c, "1.4.0", "1.5.0", &p), 0);
        /* every gate, in the order preflight logs them and `codebolt-upgrade plan` prints them */
        ck_assert_uint_eq(p.n_gates, ELEMENTSOF(gate_names));
        for (size_t i = 0; i < ELEMENTSOF(gate_names); i++)
                ck_assert_str_eq(p.gates[i].name, gate_names[i]);
}
END_TEST

/* [LoadBalancer] Driver=haproxy: an admin socket that does not answer refuses, naming it; skipped
 * without a balancer */
START_TEST(test_balancer_gate) {
        _cleanup_(config_done) Config c = {};
        _cleanup_(plan_done) Plan p = {}, q = {};

        plan_config(&c, "balancer", NULL);
        ck_assert_int_eq(plan_make(&c, "1.4.0", "1.5.0", &p), 0);
        assert_gate(&p, "balancer", CHECK_SKIPPED, "Driver=none");

        c.lb_driver = LB_DRIVER_HAPROXY;
        ck_assert_int_eq(strv_push(&c.lb_sockets, "tcp:127.0.0.1:1"), 0);
        c.lb_backend = strdup("codebolt");
        c.lb_server = strdup("cb1");
        ck_assert_ptr_nonnull(c.lb_sockets);
        ck_assert_ptr_nonnull(c.lb_backend);
        ck_assert_ptr_nonnull(c.lb_server);
        ck_assert_int_eq(plan_make(&c, "1.4.0", "1.5.0", &q), 0);
        assert_gate(&q, "balancer", CHECK_FAIL, "tcp:127.0.0.1:1");
        ck_assert(!q.proceed);
}
END_TEST

/* [Backup] Snapshot=delta: refused in preflight, naming why, when PostgreSQL cannot be asked; skipped for
 * the others, auto included (backup decides it, and says once why it takes template) */
START_TEST(test_snapshot_gate) {
        _cleanup_(config_done) Config c = {};
        _cleanup_(plan_done) Plan p = {}, q = {}, d = {};

        plan_config(&c, "snapshot", NULL);
        ck_assert_int_eq(plan_make(&c, "1.4.0", "1.5.0", &p), 0);
        assert_gate(&p, "snapshot", CHECK_SKIPPED, "Snapshot=template");

        c.snapshot = SNAPSHOT_AUTO;
        ck_assert_int_eq(plan_make(&c, "1.4.0", "1.5.0", &q), 0);
        assert_gate(
                &q,
                "snapshot",
                CHECK_SKIPPED,
                "Snapshot=auto: backup takes delta where PostgreSQL allows it");

        c.snapshot = SNAPSHOT_DELTA;
        ck_assert_int_eq(plan_make(&c, "1.4.0", "1.5.0", &d), 0);
        assert_gate(
                &d, "snapshot", CHECK_FAIL, "Snapshot=delta cannot be used: PostgreSQL could not be asked");
        ck_assert(!d.proceed);
}
END_TEST

START_TEST(test_minor_path) {
        _cleanup_(config_done) Config c = {};
        _cleanup_(plan_done) Plan p = {};
        _cleanup_json_ cJSON *o = NULL;

        plan_config(&c, "minor", NULL);
        ck_assert_int_eq(plan_make(&c, "1.4.0", "1.5.0", &p), 0);
        ck_assert_str_eq(p.from, "1.4.0");
        ck_assert_str_eq(p.to, "1.5.0");
        ck_assert_int_eq(p.kind, UPGRADE_MINOR);
        assert_gate(&p, "failed-here", CHECK_PASS, "1.5.0 is not marked failed on this host");
        assert_gate(&p, "kind", CHECK_PASS, "minor upgrade 1.4.0 → 1.5.0");
        assert_gate(&p, "published", CHECK_PASS, "1.5.0 is published in");
        assert_gate(&p, "path", CHECK_PASS, "direct: 1.4.0 satisfies 1.5.0's upgradeFrom '>=1.4.0'");
        ck_assert_ptr_nonnull(p.path);
        ck_assert_str_eq(p.path[0], "1.5.0");
        ck_assert_ptr_null(p.path[1]);
        assert_gate(&p, "node", CHECK_SKIPPED, "declares no engines.node");
        assert_gate(&p, "postgres", CHECK_SKIPPED, "declares no codebolt.postgres");
        assert_gate(&p, "clients", CHECK_SKIPPED, "declares no minClientProtocol");
        assert_gate(&p, "tools", CHECK_SKIPPED, "no admin CLI");
        assert_gate(&p, "staging", CHECK_SKIPPED, "Role= is not production");
        /* the migration 1.4.0 does not declare, not breaking: a minor rollback */
        ck_assert_int_eq(cJSON_GetArraySize(p.migrations), 1);
        ck_assert(!p.breaking);

        o = plan_to_json(&p);
        ck_assert_ptr_nonnull(o);
        ck_assert_str_eq(cJSON_GetObjectItem(o, "kind")->valuestring, "minor");
        ck_assert_str_eq(cJSON_GetObjectItem(o, "rollback")->valuestring, "minor");
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "gates")), (int)ELEMENTSOF(gate_names));
}
END_TEST

START_TEST(test_path_through) {
        _cleanup_(config_done) Config c = {};
        _cleanup_(plan_done) Plan p = {};

        plan_config(&c, "through", NULL);
        ck_assert_int_eq(plan_make(&c, "1.3.0", "1.5.0", &p), 0);
        assert_gate(&p, "path", CHECK_FAIL, "upgrade to 1.4.0 first (the path: 1.3.0 → 1.4.0 → 1.5.0)");
        ck_assert(!p.proceed);
        ck_assert_str_eq(plan_first_failure(&p)->name, "path");
}
END_TEST

START_TEST(test_major_refused) {
        _cleanup_(config_done) Config c = {};
        _cleanup_(plan_done) Plan p = {}, allowed = {};

        plan_config(&c, "major", NULL);
        ck_assert_int_eq(plan_make(&c, "1.5.0", "2.0.0", &p), 0);
        ck_assert_int_eq(p.kind, UPGRADE_MAJOR);
        assert_gate(
                &p,
                "kind",
                CHECK_FAIL,
                "1.5.0 → 2.0.0 is a major upgrade: it needs [Policy] AllowMajor=yes");
        ck_assert(!p.proceed);
        ck_assert_str_eq(plan_first_failure(&p)->name, "kind");

        c.allow_major = true;
        ck_assert_int_eq(plan_make(&c, "1.5.0", "2.0.0", &allowed), 0);
        assert_gate(&allowed, "kind", CHECK_PASS, "allowed by AllowMajor=yes");
}
END_TEST

START_TEST(test_failed_here) {
        _cleanup_(config_done) Config c = {};
        _cleanup_(plan_done) Plan p = {}, cleared = {};
        _cleanup_json_ cJSON *ledger = NULL;

        plan_config(&c, "failed", NULL);
        ledger = cJSON_Parse("[{\"to\": \"1.5.0\", \"from\": \"1.4.0\", \"result\": \"rolled-back\"}]");
        ck_assert_ptr_nonnull(ledger);
        ck_assert_int_eq(ledger_save("failed", ledger), 0);

        ck_assert_int_eq(plan_make(&c, "1.4.0", "1.5.0", &p), 0);
        assert_gate(&p, "failed-here", CHECK_FAIL, "its last upgrade here ended rolled-back");
        assert_gate(&p, "failed-here", CHECK_FAIL, "codebolt-upgrade clear 1.5.0");
        ck_assert_str_eq(plan_first_failure(&p)->name, "failed-here");
        /* the other gates still ran: `codebolt-upgrade plan` shows them all */
        assert_gate(&p, "path", CHECK_PASS, NULL);

        /* cleared, it may be tried again */
        ck_assert_int_eq(ledger_clear_failed(ledger, "1.5.0", "2026-01-01T00:00:00Z"), 1);
        ck_assert_int_eq(ledger_save("failed", ledger), 0);
        ck_assert_int_eq(plan_make(&c, "1.4.0", "1.5.0", &cleared), 0);
        assert_gate(&cleared, "failed-here", CHECK_PASS, NULL);
}
END_TEST

START_TEST(test_not_published) {
        _cleanup_(config_done) Config c = {};
        _cleanup_(plan_done) Plan p = {}, same = {}, down = {}, odd = {};

        plan_config(&c, "unpublished", NULL);
        ck_assert_int_eq(plan_make(&c, "1.4.0", "1.9.0", &p), 0);
        assert_gate(&p, "published", CHECK_FAIL, "1.9.0 is not published in");
        assert_gate(&p, "path", CHECK_SKIPPED, NULL);
        assert_gate(&p, "node", CHECK_SKIPPED, "no release metadata for 1.9.0");

        ck_assert_int_eq(plan_make(&c, "1.5.0", "1.5.0", &same), 0);
        assert_gate(&same, "kind", CHECK_FAIL, "deployment unpublished runs 1.5.0 already");

        ck_assert_int_eq(plan_make(&c, "1.5.0", "1.4.0", &down), 0);
        assert_gate(&down, "kind", CHECK_FAIL, "is a downgrade: going back is a rollback");

        ck_assert_int_eq(plan_make(&c, "something", "1.5.0", &odd), 0);
        assert_gate(
                &odd,
                "kind",
                CHECK_FAIL,
                "the running release 'something' is not named by an exact version");
}
END_TEST

START_TEST(test_ladder) {
        _cleanup_(config_done) Config c = {};
        _cleanup_(plan_done) Plan p = {};
        _cleanup_json_ cJSON *doc = metadata_ladder(8);
        _cleanup_free_ char *text = NULL;

        /* the shared ladder: 1.0.7 is reached from 1.0.0 only in steps of at most two versions */
        ck_assert_ptr_nonnull(doc);
        text = cJSON_PrintUnformatted(doc);
        ck_assert_ptr_nonnull(text);
        plan_config(&c, "ladder", text);
        ck_assert_int_eq(plan_make(&c, "1.0.0", "1.0.7", &p), 0);
        assert_gate(&p, "kind", CHECK_PASS, "patch upgrade");
        assert_gate(
                &p, "path", CHECK_FAIL, "1.0.7 upgrades directly only from '>=1.0.5 <1.0.7': upgrade to");
        ck_assert_ptr_nonnull(p.path);
        ck_assert_ptr_nonnull(p.path[3]);
        ck_assert_str_eq(p.path[3], "1.0.7");
        ck_assert_ptr_null(p.path[4]);
}
END_TEST

static Suite *plan_suite(void) {
        Suite *s = suite_create("plan");
        TCase *tc = tcase_create("core");

        /* the space gate asks a database nobody serves, once per plan */
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_gate_names);
        tcase_add_test(tc, test_minor_path);
        tcase_add_test(tc, test_balancer_gate);
        tcase_add_test(tc, test_snapshot_gate);
        tcase_add_test(tc, test_path_through);
        tcase_add_test(tc, test_major_refused);
        tcase_add_test(tc, test_failed_here);
        tcase_add_test(tc, test_not_published);
        tcase_add_test(tc, test_ladder);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite_in_root(plan_suite(), "test-plan");
}
