/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-helper.c: the helper layer's pieces that need no systemd: credentials and their trust rules, the
 * login's refusal, the server's URL and user, the database target, hold.json, deadlines, the metrics file */
#define _GNU_SOURCE
#include <check.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "test-root.h"
#include "credentials.h"
#include "trust.h"
#include "helper.h"
#include "hold-file.h"
#include "ledger.h"
#include "metrics-file.h"
#include "promtext.h"
#include "macro.h"
#include "paths.h"
#include "server.h"
#include "state.h"

#define NOBODY 65534

/* the credential name under the root's credential directory, with text and mode (and owner) */
static void credential(const char *name, const char *text, mode_t mode, uid_t owner) {
        _cleanup_free_ char *dir = paths_credential(""), *path = paths_credential(name);

        ck_assert_int_eq(paths_mkdir_p(dir, 0755), 0);
        ck_assert_int_eq(state_write_string_atomic(path, text, mode), 0);
        ck_assert_int_eq(chmod(path, mode), 0);
        ck_assert_int_eq(chown(path, owner, 0), 0);
}

START_TEST(test_read_credential) {
        _cleanup_free_ char *s = NULL, *why = NULL;

        credential("good", "  s3cret\n", 0600, 0);
        ck_assert_int_eq(trust_read_credential("good", &s, &why), 0);
        /* trimmed of whitespace */
        ck_assert_str_eq(s, "s3cret");
        ck_assert_ptr_null(why);
}
END_TEST

START_TEST(test_read_credential_refused) {
        _cleanup_free_ char *s = NULL, *why = NULL, *why2 = NULL, *why3 = NULL;

        /* anyone may read it */
        credential("loose", "s3cret\n", 0644, 0);
        ck_assert_int_eq(trust_read_credential("loose", &s, &why), -EPERM);
        ck_assert_ptr_null(s);
        ck_assert_ptr_nonnull(why);

        /* not root's */
        credential("theirs", "s3cret\n", 0600, NOBODY);
        ck_assert_int_eq(trust_read_credential("theirs", &s, &why2), -EPERM);
        ck_assert_ptr_nonnull(why2);

        /* missing: -ENOENT (the webhook token is optional, the smoke password is not) */
        ck_assert_int_lt(trust_read_credential("missing", &s, &why3), 0);
        ck_assert_int_eq(trust_read_credential("missing", &s, NULL), -ENOENT);
}
END_TEST

START_TEST(test_login_refused) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *token = NULL, *error = NULL, *loose = NULL, *path = NULL;

        ck_assert_int_eq(config_init_defaults(&c), 0);
        free(c.smoke_password_credential);
        c.smoke_password_credential = strdup("no-such-password");
        ck_assert_ptr_nonnull(c.smoke_password_credential);

        /* the password cannot be read: nothing is sent, and the message names the file */
        ck_assert_int_eq(helper_login(&c, &token, &error), -ENOENT);
        ck_assert_ptr_null(token);
        path = paths_credential("no-such-password");
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(strstr(error, "Failed to read the smoke-test password"), "%s", error);
        ck_assert_msg(strstr(error, path), "%s", error);

        /* one anyone may read: refused, and the secret is not in the message */
        credential("loose-password", "hunter2-secret\n", 0644, 0);
        free(c.smoke_password_credential);
        c.smoke_password_credential = strdup("loose-password");
        ck_assert_int_eq(helper_login(&c, &token, &loose), -EPERM);
        ck_assert_ptr_nonnull(loose);
        ck_assert_msg(!strstr(loose, "hunter2"), "%s", loose);
}
END_TEST

START_TEST(test_server) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *url = NULL, *user = NULL, *error = NULL, *h_url = NULL;

        ck_assert_int_eq(config_init_defaults(&c), 0);
        c.port = 8123;
        url = helper_server_url_config(&c, "/api/auth/login");
        ck_assert_str_eq(url, "http://127.0.0.1:8123/api/auth/login");

        /* a Helper's is its config's */
        Helper h = { .config = c, .lock_fd = -EBADF };
        h_url = helper_server_url(&h, "/health");
        ck_assert_str_eq(h_url, "http://127.0.0.1:8123/health");

        /* [Server] User= wins: no D-Bus asked */
        free(c.server_user);
        c.server_user = strdup("codebolt");
        ck_assert_int_eq(helper_server_user(&c, &user, &error), 0);
        ck_assert_str_eq(user, "codebolt");
        ck_assert_ptr_null(error);
}
END_TEST

START_TEST(test_pg_target) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *password = NULL;
        PgTarget t;

        ck_assert_int_eq(config_init_defaults(&c), 0);
        free(c.db_password_credential);
        c.db_password_credential = strdup("db-password");
        password = paths_credential("db-password");

        /* no password file: peer authentication, no password parameter */
        ck_assert_int_eq(helper_pg_target_config(&c, "codebolt", &t), 0);
        ck_assert_str_eq(t.dbname, "codebolt");
        ck_assert_ptr_eq(t.os_user, c.db_os_user);
        ck_assert_ptr_eq(t.conninfo, c.db_connection);
        ck_assert_ptr_null(t.password_file);

        credential("db-password", "pw\n", 0600, 0);
        ck_assert_int_eq(helper_pg_target_config(&c, "postgres", &t), 0);
        ck_assert_str_eq(t.dbname, "postgres");
        ck_assert_str_eq(t.password_file, password);
}
END_TEST

START_TEST(test_hold_read) {
        _cleanup_free_ char *since = NULL, *reason = NULL, *state = paths_state_dir("held"),
                            *path = paths_state_file("held", "hold.json");
        char *none = NULL;

        ck_assert_int_eq(helper_hold_read("held", &none, &none), 0);
        ck_assert_ptr_null(none);

        ck_assert_int_eq(paths_mkdir_p(state, 0700), 0);
        ck_assert_int_eq(
                state_write_string_atomic(
                        path, "{\"since\": \"2026-01-01T00:00:00Z\", \"reason\": \"freeze\"}", 0644),
                0);
        ck_assert_int_eq(helper_hold_read("held", &since, &reason), 1);
        ck_assert_str_eq(since, "2026-01-01T00:00:00Z");
        ck_assert_str_eq(reason, "freeze");
        /* either may be NULL */
        ck_assert_int_eq(helper_hold_read("held", NULL, NULL), 1);

        /* not JSON: an error, not "not held" */
        ck_assert_int_eq(state_write_string_atomic(path, "held!", 0644), 0);
        ck_assert_int_lt(helper_hold_read("held", NULL, NULL), 0);
}
END_TEST

START_TEST(test_deadline) {
        struct timespec ts;
        usec_t now, d;

        ck_assert(helper_deadline(USEC_INFINITY) == USEC_INFINITY);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
        d = helper_deadline(10 * USEC_PER_SEC);
        ck_assert(d >= now + 10 * USEC_PER_SEC);
        ck_assert(d < now + 20 * USEC_PER_SEC);
}
END_TEST

static double metric(const char *text, const char *name, const char *labels) {
        double v = -1;

        ck_assert_msg(promtext_value(text, name, labels, &v) == 0, "no %s in:\n%s", name, text);
        return v;
}

START_TEST(test_metrics_update) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *dir = NULL, *path = NULL, *text = NULL, *held = NULL, *extra = NULL,
                            *state = paths_state_dir("metrics"),
                            *current = paths_state_file("metrics", "current.json");
        struct stat st;

        ck_assert_int_eq(config_init_defaults(&c), 0);
        free(c.deployment);
        c.deployment = strdup("metrics");
        ck_assert_ptr_nonnull(c.deployment);
        /* unset: nothing written, no path */
        ck_assert_ptr_null(metrics_file_path(&c));
        metrics_update(&c);

        c.notify_metrics_file = strdup("/var/lib/node-exporter/codebolt-upgrade.prom");
        ck_assert_ptr_nonnull(c.notify_metrics_file);
        /* an extra deployment writes beside the default's file, under its own name */
        extra = metrics_file_path(&c);
        ck_assert_str_eq(extra, "/var/lib/node-exporter/codebolt-upgrade-metrics.prom");
        ck_assert_int_ge(asprintf(&dir, "%s/var/lib/node-exporter", root), 0);
        ck_assert_int_ge(asprintf(&path, "%s/codebolt-upgrade-metrics.prom", dir), 0);

        /* the directory missing (node_exporter not installed): a warning, nothing made */
        metrics_update(&c);
        ck_assert_int_eq(access(dir, F_OK), -1);

        ck_assert_int_eq(paths_mkdir_p(dir, 0755), 0);
        ck_assert_int_eq(paths_mkdir_p(state, 0700), 0);
        ck_assert_int_eq(
                ledger_append(
                        "metrics",
                        cJSON_Parse("{\"id\": \"x\", \"from\": \"1.4.0\", \"to\": \"1.5.0\", "
                                    "\"result\": \"succeeded\", \"watch\": \"ok\", "
                                    "\"finished\": \"2026-12-07T06:00:00Z\", \"downtime_seconds\": 2, "
                                    "\"phase_seconds\": {\"backup\": 1.5}}")),
                0);
        ck_assert_int_eq(
                ledger_append(
                        "metrics",
                        cJSON_Parse("{\"id\": \"y\", \"from\": \"1.5.0\", \"to\": \"1.6.0\", "
                                    "\"result\": \"refused\", \"finished\": \"2026-12-07T07:00:00Z\"}")),
                0);
        metrics_update(&c);
        ck_assert_int_eq(state_read_file(path, &text, NULL), 0);
        ck_assert_int_eq(stat(path, &st), 0);
        /* node_exporter reads it as its own user */
        ck_assert_int_eq(st.st_mode & 07777, 0644);
        ck_assert_double_eq(
                metric(text, "codebolt_upgrade_last_result", "result=\"refused\",to=\"1.6.0\""), 1);
        /* the refusal ended no watch: the verdict is the last success's */
        ck_assert_double_eq(metric(text, "codebolt_upgrade_watch_verdict", "verdict=\"ok\""), 1);
        ck_assert_double_eq(metric(text, "codebolt_upgrade_in_progress", "deployment=\"metrics\""), 0);
        ck_assert_double_eq(metric(text, "codebolt_upgrade_held", NULL), 0);

        /* a held upgrade in flight */
        ck_assert_int_eq(state_write_string_atomic(current, "{\"held\": true}", 0600), 0);
        metrics_update(&c);
        ck_assert_int_eq(state_read_file(path, &held, NULL), 0);
        ck_assert_double_eq(metric(held, "codebolt_upgrade_held", NULL), 1);
        ck_assert_double_eq(metric(held, "codebolt_upgrade_in_progress", NULL), 0);
}
END_TEST

static Suite *helper_suite(void) {
        Suite *s = suite_create("helper");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_read_credential);
        tcase_add_test(tc, test_read_credential_refused);
        tcase_add_test(tc, test_login_refused);
        tcase_add_test(tc, test_server);
        tcase_add_test(tc, test_pg_target);
        tcase_add_test(tc, test_hold_read);
        tcase_add_test(tc, test_deadline);
        tcase_add_test(tc, test_metrics_update);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        if (geteuid() != 0) {
                fprintf(stderr,
                        "test-helper needs root (credentials must be root's, one is chowned to nobody)\n");
                return EXIT_FAILURE;
        }
        return run_suite_in_root(helper_suite(), "test-helper");
}
