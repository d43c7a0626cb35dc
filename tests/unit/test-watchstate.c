/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-watchstate.c: watchstate module (helper layer): watch.json, its verdicts and their lines, the
 * timer's name and the ledger's watch verdict, without a server or systemd */
#define _GNU_SOURCE
#include <check.h>

#include "test-root.h"
#include "ledger.h"
#include "json-util.h"
#include "macro.h"
#include "paths.h"
#include "watchstate.h"

static void watch_config(Config *c, const char *deployment) {
        _cleanup_free_ char *state = paths_state_dir(deployment);

        ck_assert_int_eq(config_init_defaults(c), 0);
        free(c->deployment);
        c->deployment = strdup(deployment);
        ck_assert_ptr_nonnull(c->deployment);
        ck_assert_int_eq(paths_mkdir_p(state, 0700), 0);
}

START_TEST(test_load_save) {
        _cleanup_json_ cJSON *w = cJSON_Parse("{\"version\": \"1.5.0\", \"state\": \"running\"}"),
                             *back = NULL;
        cJSON *none = NULL;

        ck_assert_int_eq(watch_load("loadsave", &none), -ENOENT);
        ck_assert_ptr_null(none);
        ck_assert_ptr_nonnull(w);
        {
                _cleanup_free_ char *state = paths_state_dir("loadsave");
                ck_assert_int_eq(paths_mkdir_p(state, 0700), 0);
        }
        ck_assert_int_eq(watch_save("loadsave", w), 0);
        ck_assert_int_eq(watch_load("loadsave", &back), 0);
        ck_assert_str_eq(cJSON_GetObjectItem(back, "version")->valuestring, "1.5.0");
        ck_assert_str_eq(cJSON_GetObjectItem(back, "state")->valuestring, "running");
}
END_TEST

START_TEST(test_params) {
        _cleanup_(config_done) Config c = {};
        WatchParams p;

        watch_config(&c, "params");
        c.watch_success_drop = 25;
        c.watch_max_lag = 30 * USEC_PER_SEC;
        watch_params(&c, &p);
        ck_assert(p.success_drop == 25.0);
        ck_assert(p.max_lag == 30.0);
        ck_assert(p.memory_growth == (double)c.watch_memory_growth);
        /* the rest are watchrules' own defaults */
        ck_assert_uint_eq(p.min_errors, 5);
}
END_TEST

START_TEST(test_evaluate_quiet) {
        _cleanup_(config_done) Config c = {};
        _cleanup_json_ cJSON *w = NULL;
        _cleanup_free_ char *errors = NULL, *memory = NULL;
        WatchVerdicts v;

        watch_config(&c, "quiet");
        /* no error before or after, runs all succeeding, low lag: nothing degraded */
        w = cJSON_Parse(
                "{\"baseline\": {\"errors\": 0, \"window_seconds\": 3600, \"runs_succeeded\": 100,"
                " \"runs_failed\": 0, \"lag\": 1},"
                " \"samples\": [{\"t\": 60, \"errors\": 0, \"succeeded\": 110, \"failed\": 0, \"lag\": 1},"
                " {\"t\": 120, \"errors\": 0, \"succeeded\": 120, \"failed\": 0, \"lag\": 2}]}");
        ck_assert_ptr_nonnull(w);
        ck_assert_int_eq(watch_evaluate(&c, w, &v), 0);
        ck_assert_int_eq(v.signal[WATCH_ERRORS].state, WATCH_OK);
        ck_assert_int_eq(v.signal[WATCH_LAG].state, WATCH_OK);
        /* no memory reading at all */
        ck_assert_int_eq(v.signal[WATCH_MEMORY].state, WATCH_UNKNOWN_STATE);

        errors = watch_describe(&v, WATCH_ERRORS);
        ck_assert_ptr_nonnull(errors);
        ck_assert_msg(strstr(errors, "errors ok: 0 in the last"), "%s", errors);
        memory = watch_describe(&v, WATCH_MEMORY);
        ck_assert_ptr_nonnull(memory);
        ck_assert_str_eq(memory, "memory unknown: no reading yet");
}
END_TEST

START_TEST(test_evaluate_lag) {
        _cleanup_(config_done) Config c = {};
        _cleanup_json_ cJSON *w = NULL;
        _cleanup_free_ char *lag = NULL;
        WatchVerdicts v;

        watch_config(&c, "lag");
        /* two readings in a row above MaxLag= (60 s) */
        w = cJSON_Parse("{\"baseline\": {\"lag\": 1}, \"samples\": [{\"t\": 60, \"lag\": 90}, {\"t\": 120, "
                        "\"lag\": 95}]}");
        ck_assert_ptr_nonnull(w);
        ck_assert_int_ge(watch_evaluate(&c, w, &v), 1);
        ck_assert_int_eq(v.signal[WATCH_LAG].state, WATCH_DEGRADED);
        lag = watch_describe(&v, WATCH_LAG);
        ck_assert_ptr_nonnull(lag);
        ck_assert_msg(strstr(lag, "lag degraded: 95s now, 95s at most (MaxLag= 60s)"), "%s", lag);
        ck_assert_msg(strstr(lag, "into the watch"), "%s", lag);

        /* a sample time going backwards is refused */
        cJSON_Delete(w);
        w = cJSON_Parse("{\"samples\": [{\"t\": 120, \"lag\": 1}, {\"t\": 60, \"lag\": 1}]}");
        ck_assert_ptr_nonnull(w);
        ck_assert_int_eq(watch_evaluate(&c, w, &v), -EINVAL);
}
END_TEST

START_TEST(test_ledger_set) {
        _cleanup_(config_done) Config c = {};
        _cleanup_json_ cJSON *ledger = NULL, *back = NULL;
        _cleanup_free_ char *export = NULL;
        const cJSON *e;

        watch_config(&c, "ledgerset");
        free(c.export_ledger);
        c.export_ledger = strdup("/srv/public/ledger.json");
        ck_assert_ptr_nonnull(c.export_ledger);
        ledger = cJSON_Parse("[{\"id\": \"u1\", \"to\": \"1.5.0\", \"result\": \"succeeded\"},"
                             " {\"id\": \"u2\", \"to\": \"1.6.0\", \"result\": \"rolled-back\"}]");
        ck_assert_ptr_nonnull(ledger);
        ck_assert_int_eq(ledger_save("ledgerset", ledger), 0);

        /* only a succeeded upgrade carries a watch verdict */
        ck_assert_int_eq(watch_ledger_set(&c, "u2", "degraded", NULL), -ENOENT);
        ck_assert_int_eq(watch_ledger_set(&c, "nope", "ok", NULL), -ENOENT);
        ck_assert_int_eq(watch_ledger_set(&c, "u1", "degraded", "lag degraded"), 0);

        ck_assert_int_eq(ledger_load("ledgerset", &back), 0);
        e = cJSON_GetArrayItem(back, 0);
        ck_assert_str_eq(cJSON_GetObjectItem(e, "watch")->valuestring, "degraded");
        ck_assert_str_eq(cJSON_GetObjectItem(e, "watch_detail")->valuestring, "lag degraded");
        ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetArrayItem(back, 1), "watch"));

        /* and the public export follows */
        export = paths_rooted("/srv/public/ledger.json");
        ck_assert_int_eq(access(export, F_OK), 0);
}
END_TEST

static Suite *watchstate_suite(void) {
        Suite *s = suite_create("watchstate");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_load_save);
        tcase_add_test(tc, test_params);
        tcase_add_test(tc, test_evaluate_quiet);
        tcase_add_test(tc, test_evaluate_lag);
        tcase_add_test(tc, test_ledger_set);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite_in_root(watchstate_suite(), "test-watchstate");
}
