/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-state.c: state module: atomic writes, exclusive create, no torn reads */
#define _GNU_SOURCE
#include <check.h>
#include <ftw.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test-util.h"
#include "json-util.h"
#include "state.h"

static char *make_tmpdir(void) {
        char *d = strdup("/tmp/test-state.XXXXXX");

        ck_assert_ptr_nonnull(d);
        ck_assert_ptr_nonnull(mkdtemp(d));
        return d;
}

static char *path_in(const char *dir, const char *name) {
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
        return p;
}

/* number of entries in dir, besides . and .. */
static unsigned count_entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;

        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

static void write_raw(const char *path, const char *s) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
        close(fd);
}

static cJSON *sample(const char *phase) {
        cJSON *j = cJSON_CreateObject();

        ck_assert_ptr_nonnull(j);
        cJSON_AddStringToObject(j, "from", "1.4.2");
        cJSON_AddStringToObject(j, "to", "1.5.0");
        cJSON_AddStringToObject(j, "phase", phase);
        cJSON_AddBoolToObject(j, "serverStopped", false);
        return j;
}

START_TEST(test_round_trip) {
        _cleanup_rm_rf_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = path_in(dir, "current.json");
        _cleanup_json_ cJSON *j = sample("backup"), *back = NULL;
        struct stat st;

        ck_assert_int_eq(state_write_json_atomic(path, j, 0600), 0);
        ck_assert_int_eq(state_read_json(path, &back), 0);
        ck_assert(cJSON_Compare(j, back, true));
        ck_assert_str_eq(json_get_string(back, "phase"), "backup");

        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0600);
        ck_assert_uint_eq(count_entries(dir), 1); /* no temp file left behind */

        /* replace, with another mode (the public ledger export is 0644) */
        cJSON_Delete(back);
        back = NULL;
        cJSON_ReplaceItemInObject(j, "phase", cJSON_CreateString("drain"));
        ck_assert_int_eq(state_write_json_atomic(path, j, 0644), 0);
        ck_assert_int_eq(state_read_json(path, &back), 0);
        ck_assert_str_eq(json_get_string(back, "phase"), "drain");
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0644);
        ck_assert_uint_eq(count_entries(dir), 1);
}
END_TEST

START_TEST(test_read_errors) {
        _cleanup_rm_rf_ char *dir = make_tmpdir();
        _cleanup_free_ char *bad = path_in(dir, "bad.json"), *empty = path_in(dir, "empty.json"),
                            *missing = path_in(dir, "missing.json");
        cJSON *j = (cJSON *)0x1;
        char *s = (char *)0x1;

        ck_assert_int_eq(state_read_json(missing, &j), -ENOENT);
        write_raw(bad, "{\"from\": \"1.4.2\", \"to\": ");
        ck_assert_int_eq(state_read_json(bad, &j), -EBADMSG);
        write_raw(empty, "");
        ck_assert_int_eq(state_read_json(empty, &j), -EBADMSG);
        ck_assert_ptr_eq(j, (cJSON *)0x1); /* untouched on failure */

        ck_assert_int_eq(state_read_string(missing, &s), -ENOENT);
        ck_assert_int_eq(state_read_json(dir, &j), -EISDIR);
        ck_assert_ptr_eq(s, (char *)0x1);
}
END_TEST

START_TEST(test_create_exclusive) {
        _cleanup_rm_rf_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = path_in(dir, "current.json");
        _cleanup_json_ cJSON *first = sample("preflight"), *second = sample("stage"), *back = NULL;
        struct stat st;

        ck_assert_int_eq(state_create_json_exclusive(path, first, 0600), 0);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0600);

        ck_assert_int_eq(state_create_json_exclusive(path, second, 0600), -EEXIST);
        ck_assert_int_eq(state_read_json(path, &back), 0);
        ck_assert_str_eq(json_get_string(back, "phase"), "preflight"); /* the first one stays */
        ck_assert_uint_eq(count_entries(dir), 1);                      /* and no temp file */

        /* gone: may be created again */
        ck_assert_int_eq(state_unlink(path), 0);
        ck_assert_int_eq(state_create_json_exclusive(path, second, 0600), 0);
}
END_TEST

START_TEST(test_create_exclusive_race) {
        _cleanup_rm_rf_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = path_in(dir, "current.json");
        const int n = 8;
        int winners = 0;

        /* many processes at once: exactly one creates it */
        for (int i = 0; i < n; i++) {
                pid_t pid = fork();
                ck_assert_int_ge(pid, 0);
                if (pid == 0) {
                        cJSON *j = sample("preflight");
                        int r = state_create_json_exclusive(path, j, 0600);
                        cJSON_Delete(j);
                        _exit(r == 0 ? 0 : r == -EEXIST ? 1 : 2);
                }
        }
        for (int i = 0; i < n; i++) {
                int status;
                ck_assert_int_gt(wait(&status), 0);
                ck_assert(WIFEXITED(status));
                ck_assert_int_le(WEXITSTATUS(status), 1);
                winners += WEXITSTATUS(status) == 0;
        }
        ck_assert_int_eq(winners, 1);
        ck_assert_uint_eq(count_entries(dir), 1);
}
END_TEST

START_TEST(test_strings) {
        _cleanup_rm_rf_ char *dir = make_tmpdir();
        _cleanup_free_ char *pin = path_in(dir, "pin"), *raw = path_in(dir, "raw");
        _cleanup_free_ char *s = NULL, *t = NULL, *content = NULL;
        size_t size;

        ck_assert_int_eq(state_write_string_atomic(pin, "1.5.0\n", 0644), 0);
        ck_assert_int_eq(state_read_file(pin, &content, &size), 0);
        ck_assert_uint_eq(size, 6);
        ck_assert_str_eq(content, "1.5.0\n");
        ck_assert_int_eq(state_read_string(pin, &s), 0);
        ck_assert_str_eq(s, "1.5.0");

        write_raw(raw, "  \t1.5.0-rc.1 \n\n");
        ck_assert_int_eq(state_read_string(raw, &t), 0);
        ck_assert_str_eq(t, "1.5.0-rc.1");
        ck_assert_uint_eq(count_entries(dir), 2);
}
END_TEST

START_TEST(test_string_with_nul) {
        _cleanup_rm_rf_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = path_in(dir, "pin");
        char *s = NULL;

        ck_assert_int_eq(state_write_atomic(path, "1.5\0.0\n", 7, 0644), 0);
        ck_assert_int_eq(state_read_string(path, &s), -EBADMSG);
}
END_TEST

START_TEST(test_read_fd) {
        _cleanup_free_ char *buf = NULL;
        int p[2];
        size_t size = 0;

        /* past max: refused, nothing handed out */
        ck_assert_int_eq(pipe(p), 0);
        ck_assert_int_eq(write(p[1], "0123456789", 10), 10);
        close(p[1]);
        ck_assert_int_eq(state_read_fd(p[0], 0, 5, &buf, &size), -EFBIG);
        ck_assert_ptr_null(buf);
        close(p[0]);

        /* a wrong hint does not matter: read to EOF */
        ck_assert_int_eq(pipe(p), 0);
        ck_assert_int_eq(write(p[1], "0123456789", 10), 10);
        close(p[1]);
        ck_assert_int_eq(state_read_fd(p[0], 2, 10, &buf, &size), 0);
        ck_assert_uint_eq(size, 10);
        ck_assert_str_eq(buf, "0123456789");
        close(p[0]);
}
END_TEST

START_TEST(test_unlink) {
        _cleanup_rm_rf_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = path_in(dir, "current.json");
        _cleanup_json_ cJSON *j = sample("finish");

        ck_assert_int_eq(state_write_json_atomic(path, j, 0600), 0);
        ck_assert_int_eq(state_unlink(path), 0);
        ck_assert_int_eq(access(path, F_OK), -1);
        ck_assert_int_eq(state_unlink(path), -ENOENT);
        ck_assert_uint_eq(count_entries(dir), 0);
}
END_TEST

START_TEST(test_write_errors) {
        _cleanup_rm_rf_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = path_in(dir, "missing/current.json");
        _cleanup_json_ cJSON *j = sample("stage");

        ck_assert_int_eq(state_write_json_atomic(path, j, 0600), -ENOENT);
        ck_assert_int_eq(state_create_json_exclusive(path, j, 0600), -ENOENT);
        ck_assert_int_eq(state_write_string_atomic(dir, "x", 0600), -EISDIR);
}
END_TEST

/* ---- a reader never sees a torn file ---- */

static volatile sig_atomic_t writer_stop = 0;

static void on_term(int sig) {
        writer_stop = 1;
}

static cJSON *big_document(const char *marker, unsigned items) {
        cJSON *j = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(j, "items");

        cJSON_AddStringToObject(j, "marker", marker);
        cJSON_AddNumberToObject(j, "count", items);
        for (unsigned i = 0; i < items; i++) {
                char s[64];
                snprintf(s, sizeof(s), "%s-item-%08u-padding-padding-padding", marker, i);
                cJSON_AddItemToArray(a, cJSON_CreateString(s));
        }
        return j;
}

START_TEST(test_no_torn_reads) {
        _cleanup_rm_rf_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = path_in(dir, "ledger.json");
        _cleanup_json_ cJSON *a = big_document("A", 20000), *b = big_document("B", 5000);
        unsigned seen_a = 0, seen_b = 0;
        int status;
        pid_t pid;

        ck_assert_int_eq(state_write_json_atomic(path, a, 0600), 0);

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct sigaction sa = { .sa_handler = on_term };
                sigaction(SIGTERM, &sa, NULL);
                for (unsigned i = 0; !writer_stop; i++)
                        if (state_write_json_atomic(path, i % 2 ? a : b, 0600) < 0)
                                _exit(1);
                _exit(0);
        }

        for (int i = 0; i < 1000; i++) {
                _cleanup_json_ cJSON *j = NULL;
                const cJSON *items;
                const char *m;

                ck_assert_int_eq(state_read_json(path, &j), 0);
                m = json_get_string(j, "marker");
                ck_assert_ptr_nonnull(m);
                items = cJSON_GetObjectItem(j, "items");
                if (streq(m, "A")) {
                        ck_assert_int_eq(cJSON_GetArraySize(items), 20000);
                        seen_a++;
                } else {
                        ck_assert_str_eq(m, "B");
                        ck_assert_int_eq(cJSON_GetArraySize(items), 5000);
                        seen_b++;
                }
        }

        kill(pid, SIGTERM);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        /* the writer really was writing both while we read */
        ck_assert_uint_gt(seen_a, 0);
        ck_assert_uint_gt(seen_b, 0);
        ck_assert_uint_eq(count_entries(dir), 1);
}
END_TEST

static Suite *state_suite(void) {
        Suite *s = suite_create("state");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_read_errors);
        tcase_add_test(tc, test_create_exclusive);
        tcase_add_test(tc, test_create_exclusive_race);
        tcase_add_test(tc, test_strings);
        tcase_add_test(tc, test_string_with_nul);
        tcase_add_test(tc, test_read_fd);
        tcase_add_test(tc, test_unlink);
        tcase_add_test(tc, test_write_errors);
        tcase_add_test(tc, test_no_torn_reads);
        tcase_set_timeout(tc, 90);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(state_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
