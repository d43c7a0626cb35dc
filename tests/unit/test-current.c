/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-current.c: current module: current.json, the upgrade in flight */
#define _GNU_SOURCE
#include <check.h>
#include <ftw.h>
#include <regex.h>
#include <sys/stat.h>
#include <time.h>

#include "test-root.h"
#include "current.h"
#include "json-util.h"
#include "paths.h"

static cJSON *sample(const char *to) {
        cJSON *j = cJSON_CreateObject();

        ck_assert_ptr_nonnull(j);
        cJSON_AddStringToObject(j, "id", "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
        cJSON_AddStringToObject(j, "unit", "codebolt-upgrade@1.5.0.service");
        cJSON_AddStringToObject(j, "from", "1.4.2");
        cJSON_AddStringToObject(j, "to", to);
        cJSON_AddStringToObject(j, "phase", "preflight");
        cJSON_AddBoolToObject(j, "server_stopped", false);
        return j;
}

/* how many members of o are named key (a replaced key must not be there twice) */
static int count_key(const cJSON *o, const char *key) {
        const cJSON *m;
        int n = 0;

        cJSON_ArrayForEach (m, o)
                if (m->string && streq(m->string, key))
                        n++;
        return n;
}

static bool is_timestamp(const char *s) {
        regex_t re;
        bool match;

        ck_assert_int_eq(
                regcomp(&re,
                        "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
                        REG_EXTENDED | REG_NOSUB),
                0);
        match = s && regexec(&re, s, 0, NULL, 0) == 0;
        regfree(&re);
        return match;
}

START_TEST(test_create_exclusive) {
        _cleanup_json_ cJSON *first = sample("1.5.0"), *second = sample("1.6.0"), *back = NULL;

        ck_assert_int_eq(current_create("create", first), 0);
        ck_assert_int_eq(current_create("create", second), -EEXIST);

        /* the one in flight is untouched */
        ck_assert_int_eq(current_load("create", &back), 0);
        ck_assert(cJSON_Compare(first, back, true));
        ck_assert_str_eq(json_get_string(back, "to"), "1.5.0");

        /* another deployment has its own */
        ck_assert_int_eq(current_create("create-other", second), 0);
}
END_TEST

START_TEST(test_load_none) {
        cJSON *j = (cJSON *)0x1;

        ck_assert_int_eq(current_load("none", &j), -ENOENT);
        ck_assert_ptr_eq(j, (cJSON *)0x1); /* untouched on failure */
}
END_TEST

START_TEST(test_save) {
        _cleanup_json_ cJSON *j = sample("1.5.0"), *back = NULL, *again = NULL;
        const char *updated;

        ck_assert_int_eq(current_create("save", j), 0);
        ck_assert_int_eq(current_load("save", &back), 0);
        ck_assert(!cJSON_HasObjectItem(back, "updated"));

        ck_assert_int_eq(current_set_phase(back, "stage"), 0);
        ck_assert_int_eq(current_set_string(back, "updated", "1999-01-01T00:00:00Z"), 0);
        ck_assert_int_eq(current_save("save", back), 0);

        /* the caller's object carries the new time too */
        updated = json_get_string(back, "updated");
        ck_assert(is_timestamp(updated));
        ck_assert_str_ne(updated, "1999-01-01T00:00:00Z");
        ck_assert_int_eq(count_key(back, "updated"), 1);

        ck_assert_int_eq(current_load("save", &again), 0);
        ck_assert(cJSON_Compare(back, again, true));
        ck_assert_str_eq(json_get_string(again, "phase"), "stage");
        ck_assert_str_eq(json_get_string(again, "from"), "1.4.2");
        ck_assert_str_eq(json_get_string(again, "to"), "1.5.0");
        ck_assert_str_eq(json_get_string(again, "unit"), "codebolt-upgrade@1.5.0.service");
        ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(again, "server_stopped")));
        ck_assert_int_eq(cJSON_GetArraySize(again), cJSON_GetArraySize(j) + 1);
}
END_TEST

START_TEST(test_remove) {
        _cleanup_json_ cJSON *j = sample("1.5.0");
        cJSON *back = NULL;

        ck_assert_int_eq(current_create("remove", j), 0);
        ck_assert_int_eq(current_remove("remove"), 0);
        ck_assert_int_eq(current_load("remove", &back), -ENOENT);
        ck_assert_int_eq(current_remove("remove"), -ENOENT);

        /* gone: the next upgrade may start */
        ck_assert_int_eq(current_create("remove", j), 0);
}
END_TEST

/* going back is a restore when a migration failed, one not marked non-breaking was applied, or one was
 * mid-flight; a minor rollback otherwise */
START_TEST(test_restore_reason) {
        static const struct {
                const char *json, *reason;
        } cases[] = {
                { "{}", NULL },
                { "{\"migrations\":[{\"id\":\"a\",\"state\":\"applied\",\"breaking\":false}]}", NULL },
                { "{\"migrations\":[{\"id\":\"a\",\"state\":\"applied\",\"breaking\":true}]}",
                  "breaking migration a was applied" },
                { "{\"migrations\":[{\"id\":\"a\",\"state\":\"applied\"}]}",
                  "breaking migration a was applied" },
                { "{\"migrations\":[{\"id\":\"a\",\"state\":\"applied\",\"breaking\":false},"
                  "{\"id\":\"b\",\"state\":\"failed\",\"breaking\":false}]}",
                  "migration b failed" },
                { "{\"migrations\":[{\"id\":\"c\",\"state\":\"applying\",\"breaking\":false}]}",
                  "migration c may have been cut off mid-flight" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ cJSON *j = cJSON_Parse(cases[i].json);
                _cleanup_free_ char *reason = NULL;

                ck_assert_ptr_nonnull(j);
                ck_assert_int_eq(current_restore_reason(j, &reason), 0);
                if (cases[i].reason)
                        ck_assert_str_eq(reason, cases[i].reason);
                else
                        ck_assert_ptr_null(reason);
        }
}
END_TEST

START_TEST(test_modes) {
        _cleanup_json_ cJSON *j = sample("1.5.0");
        _cleanup_free_ char *dir = paths_state_dir("modes"),
                            *file = paths_state_file("modes", "current.json");
        struct stat st;

        /* not left to the umask */
        umask(0);
        ck_assert_int_eq(current_create("modes", j), 0);
        ck_assert_int_eq(stat(dir, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_int_eq(st.st_mode & 07777, 0700);
        ck_assert_int_eq(stat(file, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        ck_assert_int_eq(st.st_mode & 07777, 0600);

        ck_assert_int_eq(current_save("modes", j), 0);
        ck_assert_int_eq(stat(file, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0600);
}
END_TEST

START_TEST(test_set_string_bool) {
        _cleanup_json_ cJSON *j = sample("1.5.0");
        int n = cJSON_GetArraySize(j);

        /* replace in place, no second member of the same name */
        ck_assert_int_eq(current_set_string(j, "to", "1.5.1"), 0);
        ck_assert_str_eq(json_get_string(j, "to"), "1.5.1");
        ck_assert_int_eq(count_key(j, "to"), 1);

        ck_assert_int_eq(current_set_bool(j, "server_stopped", true), 0);
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "server_stopped")));
        ck_assert_int_eq(count_key(j, "server_stopped"), 1);

        /* a key of another type takes the new one */
        ck_assert_int_eq(current_set_bool(j, "phase", false), 0);
        ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "phase")));
        ck_assert_int_eq(current_set_phase(j, "drain"), 0);
        ck_assert_str_eq(json_get_string(j, "phase"), "drain");
        ck_assert_int_eq(count_key(j, "phase"), 1);
        ck_assert_int_eq(cJSON_GetArraySize(j), n);

        /* NULL stores null, over a value or as a new key */
        ck_assert_int_eq(current_set_string(j, "to", NULL), 0);
        ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "to")));
        ck_assert_int_eq(current_set_string(j, "snapshot", NULL), 0);
        ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "snapshot")));
        ck_assert_int_eq(current_set_bool(j, "switched", false), 0);
        ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "switched")));
        ck_assert_int_eq(cJSON_GetArraySize(j), n + 2);

        /* keys are case-sensitive: "Phase" is another key, not a failure */
        ck_assert_int_eq(current_set_string(j, "Phase", "migrate"), 0);
        ck_assert_int_eq(current_set_bool(j, "Server_Stopped", false), 0);
        ck_assert_str_eq(json_get_string(j, "phase"), "drain");
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "server_stopped")));
        ck_assert_int_eq(cJSON_GetArraySize(j), n + 4);
}
END_TEST

START_TEST(test_phase_done) {
        _cleanup_json_ cJSON *j = sample("1.5.0");
        const cJSON *phases;

        ck_assert(!current_phase_is_done(j, "preflight"));
        ck_assert_int_eq(current_phase_done(j, "preflight"), 0);
        ck_assert_int_eq(current_phase_done(j, "stage"), 0);
        ck_assert_int_eq(current_phase_done(j, "preflight"), 0); /* once only */
        ck_assert_int_eq(current_phase_done(j, "backup"), 0);
        ck_assert_int_eq(current_phase_done(j, "stage"), 0);

        phases = cJSON_GetObjectItemCaseSensitive(j, "phases");
        ck_assert(cJSON_IsArray(phases));
        ck_assert_int_eq(cJSON_GetArraySize(phases), 3);
        ck_assert_str_eq(cJSON_GetArrayItem(phases, 0)->valuestring, "preflight");
        ck_assert_str_eq(cJSON_GetArrayItem(phases, 1)->valuestring, "stage");
        ck_assert_str_eq(cJSON_GetArrayItem(phases, 2)->valuestring, "backup");
        ck_assert_int_eq(count_key(j, "phases"), 1);

        ck_assert(current_phase_is_done(j, "preflight"));
        ck_assert(current_phase_is_done(j, "backup"));
        ck_assert(!current_phase_is_done(j, "drain"));
        ck_assert(!current_phase_is_done(j, "Stage"));
        /* "phase", the one running, is not "phases" */
        ck_assert_str_eq(json_get_string(j, "phase"), "preflight");
}
END_TEST

START_TEST(test_phase_done_survives_save) {
        _cleanup_json_ cJSON *j = sample("1.5.0"), *back = NULL;

        ck_assert_int_eq(current_create("phases", j), 0);
        ck_assert_int_eq(current_phase_done(j, "preflight"), 0);
        ck_assert_int_eq(current_phase_done(j, "stage"), 0);
        ck_assert_int_eq(current_save("phases", j), 0);

        ck_assert_int_eq(current_load("phases", &back), 0);
        ck_assert(current_phase_is_done(back, "preflight"));
        ck_assert(current_phase_is_done(back, "stage"));
        ck_assert(!current_phase_is_done(back, "backup"));
}
END_TEST

START_TEST(test_set_migration) {
        _cleanup_json_ cJSON *j = sample("1.5.0"), *drops = cJSON_CreateArray();
        const cJSON *list, *m;

        cJSON_AddItemToArray(drops, cJSON_CreateString("runs.legacy_status"));
        ck_assert_int_eq(current_set_migration(j, "20261101-runs", true, drops, "applying"), 0);
        ck_assert_int_eq(current_set_migration(j, "20261102-index", false, NULL, "applying"), 0);

        /* the caller keeps its drops: the entry has a copy */
        cJSON_AddItemToArray(drops, cJSON_CreateString("runs.other"));
        cJSON_Delete(drops);
        drops = NULL;

        /* the same id again: only the state moves */
        ck_assert_int_eq(current_set_migration(j, "20261101-runs", false, NULL, "applied"), 0);
        ck_assert_int_eq(current_set_migration(j, "20261102-index", false, NULL, "failed"), 0);

        list = cJSON_GetObjectItemCaseSensitive(j, "migrations");
        ck_assert(cJSON_IsArray(list));
        ck_assert_int_eq(cJSON_GetArraySize(list), 2);

        m = cJSON_GetArrayItem(list, 0);
        ck_assert_str_eq(json_get_string(m, "id"), "20261101-runs");
        ck_assert_str_eq(json_get_string(m, "state"), "applied");
        ck_assert_int_eq(count_key(m, "state"), 1);
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "breaking")));
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "drops")), 1);
        ck_assert_str_eq(
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "drops"), 0)->valuestring,
                "runs.legacy_status");

        m = cJSON_GetArrayItem(list, 1);
        ck_assert_str_eq(json_get_string(m, "id"), "20261102-index");
        ck_assert_str_eq(json_get_string(m, "state"), "failed");
        ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m, "breaking")));
        /* no drops given: an empty list, not a missing key */
        ck_assert(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(m, "drops")));
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "drops")), 0);
}
END_TEST

START_TEST(test_timestamp) {
        _cleanup_free_ char *s = current_timestamp();
        struct tm tm = {};
        time_t now = time(NULL), t;
        const char *end;

        ck_assert(is_timestamp(s));
        ck_assert(!is_timestamp("2026-11-26 10:57:13Z"));
        ck_assert(!is_timestamp("2026-11-26T10:57:13+00:00"));

        /* and it is now, in UTC */
        end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
        ck_assert_ptr_nonnull(end);
        ck_assert_int_eq(*end, 0);
        t = timegm(&tm);
        ck_assert_int_le(t, time(NULL));
        ck_assert_int_ge(t, now - 1);
}
END_TEST

static Suite *current_suite(void) {
        Suite *s = suite_create("current");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_create_exclusive);
        tcase_add_test(tc, test_load_none);
        tcase_add_test(tc, test_save);
        tcase_add_test(tc, test_remove);
        tcase_add_test(tc, test_modes);
        tcase_add_test(tc, test_restore_reason);
        tcase_add_test(tc, test_set_string_bool);
        tcase_add_test(tc, test_phase_done);
        tcase_add_test(tc, test_phase_done_survives_save);
        tcase_add_test(tc, test_set_migration);
        tcase_add_test(tc, test_timestamp);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite_in_root(current_suite(), "test-current");
}
