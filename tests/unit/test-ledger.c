/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-ledger.c: ledger module: every upgrade attempted, the failed versions, the public export */
#define _GNU_SOURCE
#include <check.h>
#include <ftw.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "test-root.h"
#include "json-util.h"
#include "ledger.h"
#include "paths.h"
#include "state.h"

static cJSON *entry(const char *id, const char *to, const char *result) {
        cJSON *e = cJSON_CreateObject();

        ck_assert_ptr_nonnull(e);
        cJSON_AddStringToObject(e, "id", id);
        cJSON_AddStringToObject(e, "from", "1.4.2");
        cJSON_AddStringToObject(e, "to", to);
        cJSON_AddStringToObject(e, "result", result);
        return e;
}

/* a ledger in memory, from (id, to, result) triples */
static cJSON *ledger_of(const char *const *rows, size_t n) {
        cJSON *l = cJSON_CreateArray();

        ck_assert_ptr_nonnull(l);
        for (size_t i = 0; i + 2 < n; i += 3)
                cJSON_AddItemToArray(l, entry(rows[i], rows[i + 1], rows[i + 2]));
        return l;
}

static void write_raw(const char *path, const char *s) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
        close(fd);
}

START_TEST(test_load_missing) {
        _cleanup_json_ cJSON *l = NULL;

        ck_assert_int_eq(ledger_load("missing", &l), 0);
        ck_assert(cJSON_IsArray(l));
        ck_assert_int_eq(cJSON_GetArraySize(l), 0);
        ck_assert_ptr_null(ledger_last(l));
}
END_TEST

START_TEST(test_append_order) {
        _cleanup_json_ cJSON *l = NULL;
        _cleanup_free_ char *path = paths_state_file("append", "ledger.json");
        struct stat st;

        ck_assert_int_eq(ledger_append("append", entry("a", "1.5.0", "rolled-back")), 0);
        ck_assert_int_eq(ledger_append("append", entry("b", "1.5.1", "succeeded")), 0);
        ck_assert_int_eq(ledger_append("append", entry("c", "1.6.0", "refused")), 0);

        ck_assert_int_eq(ledger_load("append", &l), 0);
        ck_assert_int_eq(cJSON_GetArraySize(l), 3);
        ck_assert_str_eq(json_get_string(cJSON_GetArrayItem(l, 0), "id"), "a");
        ck_assert_str_eq(json_get_string(cJSON_GetArrayItem(l, 1), "id"), "b");
        ck_assert_str_eq(json_get_string(cJSON_GetArrayItem(l, 2), "id"), "c");
        ck_assert_str_eq(json_get_string(cJSON_GetArrayItem(l, 1), "result"), "succeeded");

        /* the private ledger keeps secrets: owner only */
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0600);
}
END_TEST

/* every entry says which codebolt-upgrade wrote it: the build's version (meson's project(version:)),
 * unless the caller set one (an entry carried over keeps its own) */
START_TEST(test_append_tool_version) {
        _cleanup_json_ cJSON *l = NULL;
        cJSON *kept = entry("b", "1.5.1", "succeeded");

        ck_assert_str_ne(PACKAGE_VERSION, "");
        ck_assert_int_eq(ledger_append("version", entry("a", "1.5.0", "refused")), 0);
        cJSON_AddStringToObject(kept, "tool_version", "0.0.1");
        ck_assert_int_eq(ledger_append("version", kept), 0);

        ck_assert_int_eq(ledger_load("version", &l), 0);
        ck_assert_int_eq(cJSON_GetArraySize(l), 2);
        ck_assert_str_eq(json_get_string(cJSON_GetArrayItem(l, 0), "tool_version"), PACKAGE_VERSION);
        ck_assert_str_eq(json_get_string(cJSON_GetArrayItem(l, 1), "tool_version"), "0.0.1");
        /* set once, not appended twice */
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetArrayItem(l, 0)), 5);
}
END_TEST

START_TEST(test_not_an_array) {
        _cleanup_free_ char *dir = paths_state_dir("object"),
                            *path = paths_state_file("object", "ledger.json"), *content = NULL;
        cJSON *l = (cJSON *)0x1;
        size_t size;

        ck_assert_int_eq(paths_mkdir_p(dir, 0700), 0);
        write_raw(path, "{\"id\": \"a\", \"result\": \"succeeded\"}");
        ck_assert_int_eq(ledger_load("object", &l), -EBADMSG);
        ck_assert_ptr_eq(l, (cJSON *)0x1); /* untouched on failure */

        /* nothing is appended to it (and the entry is not leaked) */
        ck_assert_int_eq(ledger_append("object", entry("b", "1.5.0", "succeeded")), -EBADMSG);
        ck_assert_int_eq(state_read_file(path, &content, &size), 0);
        ck_assert_str_eq(content, "{\"id\": \"a\", \"result\": \"succeeded\"}");

        write_raw(path, "[{\"id\": \"a\",");
        ck_assert_int_eq(ledger_load("object", &l), -EBADMSG);
}
END_TEST

START_TEST(test_last) {
        static const char *const rows[] = {
                "a", "1.5.0", "rolled-back", "b", "1.5.1", "succeeded",
                "c", "1.5.0", "succeeded",   "d", "1.6.0", "refused",
        };
        _cleanup_json_ cJSON *l = ledger_of(rows, ELEMENTSOF(rows)), *empty = cJSON_CreateArray();

        ck_assert_str_eq(json_get_string(ledger_last(l), "id"), "d");
        ck_assert_str_eq(json_get_string(ledger_last_for_version(l, "1.5.0"), "id"), "c");
        ck_assert_str_eq(json_get_string(ledger_last_for_version(l, "1.5.1"), "id"), "b");
        ck_assert_str_eq(json_get_string(ledger_last_for_version(l, "1.6.0"), "id"), "d");
        ck_assert_ptr_null(ledger_last_for_version(l, "1.4.2")); /* a "from" is not a "to" */
        ck_assert_ptr_null(ledger_last_for_version(l, "1.5"));

        /* a refusal changed nothing: the change before it is the one that counts */
        ck_assert_str_eq(json_get_string(ledger_last_change_for_version(l, "1.5.0"), "id"), "c");
        ck_assert_ptr_null(ledger_last_change_for_version(l, "1.6.0"));
        cJSON *refused = cJSON_Duplicate(cJSON_GetArrayItem(l, 3), true);
        ck_assert_ptr_nonnull(refused);
        cJSON_ReplaceItemInObject(refused, "to", cJSON_CreateString("1.5.0"));
        cJSON_ReplaceItemInObject(refused, "id", cJSON_CreateString("e"));
        cJSON_AddItemToArray(l, refused);
        ck_assert_str_eq(json_get_string(ledger_last_for_version(l, "1.5.0"), "id"), "e");
        ck_assert_str_eq(json_get_string(ledger_last_change_for_version(l, "1.5.0"), "id"), "c");

        ck_assert_ptr_null(ledger_last(empty));
        ck_assert_ptr_null(ledger_last_for_version(empty, "1.5.0"));
}
END_TEST

START_TEST(test_version_failed) {
        static const struct {
                const char *first, *last;
                bool failed;
        } cases[] = {
                { NULL, "rolled-back", true },
                { NULL, "restored", true },
                { NULL, "held", true },
                { NULL, "succeeded", false },
                { NULL, "aborted", false },
                { NULL, "refused", false },
                /* the last one that changed anything decides */
                { "held", "succeeded", false },
                { "succeeded", "restored", true },
                { "rolled-back", "aborted", false },
                /* a refused attempt changed nothing: it does not hide the failure */
                { "rolled-back", "refused", true },
                { "restored", "refused", true },
                { "held", "refused", true },
                { "succeeded", "refused", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ cJSON *l = cJSON_CreateArray();

                /* other versions around it do not count */
                cJSON_AddItemToArray(l, entry("x", "1.4.9", "held"));
                if (cases[i].first)
                        cJSON_AddItemToArray(l, entry("a", "1.5.0", cases[i].first));
                cJSON_AddItemToArray(l, entry("b", "1.5.0", cases[i].last));
                cJSON_AddItemToArray(l, entry("y", "1.6.0", "succeeded"));
                ck_assert_msg(
                        ledger_version_failed(l, "1.5.0") == cases[i].failed,
                        "%s then %s: failed should be %d",
                        strempty(cases[i].first),
                        cases[i].last,
                        cases[i].failed);
        }
}
END_TEST

START_TEST(test_version_failed_refusals) {
        static const char *const rows[] = {
                "a", "1.5.0", "rolled-back", "b", "1.5.0", "refused", "c", "1.5.0", "refused",
        };
        _cleanup_json_ cJSON *l = ledger_of(rows, ELEMENTSOF(rows)), *empty = cJSON_CreateArray();

        ck_assert(ledger_version_failed(l, "1.5.0"));
        ck_assert(!ledger_version_failed(l, "1.5.1"));
        ck_assert(!ledger_version_failed(empty, "1.5.0"));
        /* the entry that says why is the failure, not the later refusals */
        ck_assert_str_eq(json_get_string(ledger_version_failure(l, "1.5.0"), "result"), "rolled-back");
        ck_assert_str_eq(json_get_string(ledger_version_failure(l, "1.5.0"), "id"), "a");
        ck_assert_ptr_null(ledger_version_failure(l, "1.5.1"));
}
END_TEST

START_TEST(test_clear_failed) {
        static const char *const rows[] = {
                "a", "1.5.0", "restored", "b", "1.5.0", "refused", "c", "1.5.1", "succeeded",
        };
        _cleanup_json_ cJSON *l = ledger_of(rows, ELEMENTSOF(rows));

        ck_assert_int_eq(ledger_clear_failed(l, "1.5.0", "2026-11-26T12:00:00Z"), 1);
        ck_assert(!ledger_version_failed(l, "1.5.0"));
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(l, 0), "cleared")));
        ck_assert_str_eq(json_get_string(cJSON_GetArrayItem(l, 0), "cleared_at"), "2026-11-26T12:00:00Z");
        /* nothing to clear: a success, a version never tried, one cleared already */
        ck_assert_int_eq(ledger_clear_failed(l, "1.5.1", "x"), 0);
        ck_assert_int_eq(ledger_clear_failed(l, "9.9.9", "x"), 0);
        ck_assert_int_eq(ledger_clear_failed(l, "1.5.0", "x"), 0);
}
END_TEST

START_TEST(test_version_cleared) {
        _cleanup_json_ cJSON *l = cJSON_CreateArray();
        cJSON *e = entry("a", "1.5.0", "restored");

        cJSON_AddItemToArray(l, e);
        ck_assert(ledger_version_failed(l, "1.5.0"));

        cJSON_AddBoolToObject(e, "cleared", false);
        ck_assert(ledger_version_failed(l, "1.5.0"));
        cJSON_ReplaceItemInObjectCaseSensitive(e, "cleared", cJSON_CreateBool(true));
        ck_assert(!ledger_version_failed(l, "1.5.0"));

        /* a refusal after the clear changes nothing; a new failure counts again */
        cJSON_AddItemToArray(l, entry("b", "1.5.0", "refused"));
        ck_assert(!ledger_version_failed(l, "1.5.0"));
        cJSON_AddItemToArray(l, entry("c", "1.5.0", "held"));
        ck_assert(ledger_version_failed(l, "1.5.0"));
}
END_TEST

static cJSON *full_entry(void) {
        cJSON *e = entry("0f1e2d3c", "1.5.0", "succeeded"), *m = cJSON_CreateObject();

        cJSON_AddStringToObject(e, "phase", "finish");
        cJSON_AddStringToObject(e, "started", "2026-11-26T10:57:13Z");
        cJSON_AddStringToObject(e, "finished", "2026-11-26T11:04:02Z");
        cJSON_AddStringToObject(e, "backup", "/var/backups/codebolt/staging/0f1e2d3c");
        cJSON_AddStringToObject(e, "snapshot", "codebolt_pre_0f1e2d3c");
        cJSON_AddStringToObject(e, "tool_version", "0.1.0");
        cJSON_AddStringToObject(e, "message", "password authentication failed for user \"codebolt\"");
        cJSON_AddStringToObject(e, "credential", "/etc/codebolt-upgrade/credentials/db-password");
        cJSON_AddBoolToObject(e, "cleared", false);
        cJSON_AddItemToObject(
                e,
                "migrations",
                cJSON_Parse("[{\"id\": \"20261101-runs\", \"breaking\": true, \"drops\": [\"runs.x\"]}]"));
        cJSON_AddItemToObject(e, "tree", cJSON_Parse("{\"@codebolt/server@1.5.0\": \"sha512-abc\"}"));
        cJSON_AddItemToObject(e, "smoke", cJSON_Parse("{\"verdict\": \"pass\", \"steps\": 4}"));
        cJSON_AddItemToObject(e, "watch", m);
        cJSON_AddStringToObject(m, "verdict", "pass");
        return e;
}

START_TEST(test_export) {
        static const char *const public_keys[] = { "id",    "from",    "to",       "result",
                                                   "phase", "started", "finished", "migrations",
                                                   "tree",  "smoke",   "watch",    "tool_version" };
        _cleanup_json_ cJSON *l = cJSON_CreateArray(), *pub = NULL;
        _cleanup_free_ char *dir = paths_rooted("/srv/export/public"),
                            *path = paths_rooted("/srv/export/public/ledger.json");
        const cJSON *e, *m;
        struct stat st;

        cJSON_AddItemToArray(l, full_entry());
        cJSON_AddItemToArray(l, entry("second", "1.5.1", "refused"));

        /* the mode is the export's, not the umask's; the missing parents are made */
        umask(077);
        ck_assert_int_eq(ledger_export(l, path), 0);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        ck_assert_int_eq(st.st_mode & 07777, 0644);
        ck_assert_int_eq(stat(dir, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));

        ck_assert_int_eq(state_read_json(path, &pub), 0);
        ck_assert(cJSON_IsArray(pub));
        ck_assert_int_eq(cJSON_GetArraySize(pub), 2);

        /* the first: exactly the public keys, with their values */
        e = cJSON_GetArrayItem(pub, 0);
        ck_assert_int_eq(cJSON_GetArraySize(e), ELEMENTSOF(public_keys));
        for (size_t i = 0; i < ELEMENTSOF(public_keys); i++)
                ck_assert_msg(
                        cJSON_Compare(
                                cJSON_GetObjectItemCaseSensitive(e, public_keys[i]),
                                cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(l, 0), public_keys[i]),
                                true),
                        "%s differs",
                        public_keys[i]);
        cJSON_ArrayForEach (m, e) {
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(public_keys); i++)
                        known = known || streq(m->string, public_keys[i]);
                ck_assert_msg(known, "\"%s\" exported", m->string);
        }
        ck_assert(!cJSON_HasObjectItem(e, "backup"));
        ck_assert(!cJSON_HasObjectItem(e, "message"));
        ck_assert(!cJSON_HasObjectItem(e, "snapshot"));
        ck_assert(!cJSON_HasObjectItem(e, "credential"));

        /* the second: what it has, nothing made up */
        e = cJSON_GetArrayItem(pub, 1);
        ck_assert_int_eq(cJSON_GetArraySize(e), 4);
        ck_assert_str_eq(json_get_string(e, "id"), "second");
        ck_assert_str_eq(json_get_string(e, "result"), "refused");

        /* the ledger itself is untouched */
        ck_assert_str_eq(
                json_get_string(cJSON_GetArrayItem(l, 0), "backup"),
                "/var/backups/codebolt/staging/0f1e2d3c");
}
END_TEST

START_TEST(test_export_replaces) {
        _cleanup_json_ cJSON *l = cJSON_CreateArray(), *empty = cJSON_CreateArray(), *pub = NULL;
        _cleanup_free_ char *path = paths_rooted("/srv/replace/ledger.json");

        cJSON_AddItemToArray(l, entry("a", "1.5.0", "succeeded"));
        ck_assert_int_eq(ledger_export(l, path), 0);
        ck_assert_int_eq(ledger_export(empty, path), 0);
        ck_assert_int_eq(state_read_json(path, &pub), 0);
        ck_assert(cJSON_IsArray(pub));
        ck_assert_int_eq(cJSON_GetArraySize(pub), 0);
}
END_TEST

START_TEST(test_result_is_valid) {
        static const char *const valid[] = { "succeeded",   "refused",  "aborted",
                                             "rolled-back", "restored", "held" };
        static const char *const invalid[] = { "",           "success", "failed", "rolled_back",
                                               "rolledback", "Held",    "held ",  "rolled-back\n",
                                               "cleared",    "running" };

        for (size_t i = 0; i < ELEMENTSOF(valid); i++)
                ck_assert_msg(ledger_result_is_valid(valid[i]), "%s", valid[i]);
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++)
                ck_assert_msg(!ledger_result_is_valid(invalid[i]), "%s", invalid[i]);
        ck_assert(!ledger_result_is_valid(NULL));
}
END_TEST

static Suite *ledger_suite(void) {
        Suite *s = suite_create("ledger");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_load_missing);
        tcase_add_test(tc, test_append_order);
        tcase_add_test(tc, test_append_tool_version);
        tcase_add_test(tc, test_not_an_array);
        tcase_add_test(tc, test_last);
        tcase_add_test(tc, test_version_failed);
        tcase_add_test(tc, test_version_failed_refusals);
        tcase_add_test(tc, test_version_cleared);
        tcase_add_test(tc, test_clear_failed);
        tcase_add_test(tc, test_export);
        tcase_add_test(tc, test_export_replaces);
        tcase_add_test(tc, test_result_is_valid);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite_in_root(ledger_suite(), "test-ledger");
}
