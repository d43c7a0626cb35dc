/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-backup-list.c: the per-file checksums in memory (sort, find, compare, merge, replace a prefix)
 * and as files.sha256 (written, read back, hostile names escaped, bad lists refused) */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>

#include "backup-list.h"
#include "hash.h"
#include "macro.h"

/* sha256("hello\n") and sha256("") */
#define SHA256_HELLO "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static BackupFileList *list_of(const char *const *paths_and_hex) {
        BackupFileList *l = backup_list_new();

        ck_assert_ptr_nonnull(l);
        for (size_t i = 0; paths_and_hex[i]; i += 2)
                ck_assert_int_eq(backup_list_set_hex(l, paths_and_hex[i], paths_and_hex[i + 1]), 0);
        return l;
}

START_TEST(test_list_compare_replace) {
        _cleanup_file_list_ BackupFileList
                *a = list_of((const char *const[]){
                        "x", SHA256_EMPTY, "y", SHA256_HELLO, "z", SHA256_EMPTY, NULL }),
                *same = list_of((const char *const[]){
                        "z", SHA256_EMPTY, "x", SHA256_EMPTY, "y", SHA256_HELLO, NULL }),
                *missing = list_of((const char *const[]){ "x", SHA256_EMPTY, "z", SHA256_EMPTY, NULL }),
                *extra = list_of((const char *const[]){
                        "x", SHA256_EMPTY, "y", SHA256_HELLO, "yy", SHA256_EMPTY, "z", SHA256_EMPTY, NULL }),
                *changed = list_of((const char *const[]){
                        "x", SHA256_EMPTY, "y", SHA256_EMPTY, "z", SHA256_EMPTY, NULL }),
                *empty = backup_list_new();
        _cleanup_file_list_ BackupFileList
                *files = list_of((const char *const[]){ "database.dump",
                                                        SHA256_EMPTY,
                                                        "stores/a/1",
                                                        SHA256_EMPTY,
                                                        "stores/a/2",
                                                        SHA256_EMPTY,
                                                        "stores/ab/1",
                                                        SHA256_HELLO,
                                                        NULL }),
                *update = list_of((const char *const[]){
                        "stores/a/1", SHA256_HELLO, "stores/a/3", SHA256_HELLO, NULL }),
                *bad = list_of((const char *const[]){ "stores/b/1", SHA256_EMPTY, NULL }),
                *want = list_of((const char *const[]){ "database.dump",
                                                       SHA256_EMPTY,
                                                       "stores/ab/1",
                                                       SHA256_HELLO,
                                                       "stores/a/1",
                                                       SHA256_HELLO,
                                                       "stores/a/3",
                                                       SHA256_HELLO,
                                                       NULL });
        _cleanup_free_ char *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL, *dup = NULL;
        char *none = NULL;
        size_t first, end;

        ck_assert_int_eq(backup_list_compare(a, same, &none), 0);
        ck_assert_ptr_null(none);
        ck_assert_int_eq(backup_list_compare(empty, empty, NULL), 0);
        ck_assert_int_eq(backup_list_compare(a, missing, &p1), -EBADMSG);
        ck_assert_str_eq(p1, "y");
        ck_assert_int_eq(backup_list_compare(a, extra, &p2), -EBADMSG);
        ck_assert_str_eq(p2, "yy");
        ck_assert_int_eq(backup_list_compare(a, changed, &p3), -EBADMSG);
        ck_assert_str_eq(p3, "y");
        ck_assert_int_eq(backup_list_compare(empty, a, &p4), -EBADMSG);
        ck_assert_str_eq(p4, "x");
        ck_assert_int_eq(backup_list_compare(a, NULL, NULL), -EINVAL);

        backup_list_range(files, "stores/a/", &first, &end);
        ck_assert_uint_eq(first, 1);
        ck_assert_uint_eq(end, 3);
        ck_assert_int_eq(backup_list_replace_prefix(files, "stores/a/", update), 0);
        ck_assert_int_eq(backup_list_compare(want, files, NULL), 0);
        ck_assert_int_eq(backup_list_replace_prefix(files, "stores/a/", bad), -EINVAL);
        ck_assert_int_eq(backup_list_compare(want, files, NULL), 0);
        ck_assert_int_eq(backup_list_merge(files, update), -ENOTUNIQ);
        ck_assert_int_eq(backup_list_set_hex(files, "x", "not hex"), -EINVAL);

        ck_assert_int_eq(backup_list_add(empty, "b", (const uint8_t[BACKUP_LIST_VALUE_SIZE]){}), 0);
        ck_assert_int_eq(backup_list_add(empty, "a", (const uint8_t[BACKUP_LIST_VALUE_SIZE]){}), 0);
        ck_assert_int_eq(backup_list_add(empty, "b", (const uint8_t[BACKUP_LIST_VALUE_SIZE]){}), 0);
        ck_assert_int_eq(backup_list_sort(empty, &dup), -ENOTUNIQ);
        ck_assert_str_eq(dup, "b");
}
END_TEST

/* write, then read: the same list, its checksum, and sha256sum's escapes for hostile names */
START_TEST(test_list_round_trip) {
        static const char *const names[] = {
                "plain",
                "new\nline",
                "back\\slash",
                "  leading spaces",
                "carriage\rreturn",
                "\xff\xfe not utf-8",
                "dir/file",
                NULL,
        };
        _cleanup_file_list_ BackupFileList *l = backup_list_new(), *back = NULL, *stores = NULL;
        _cleanup_free_ char *text = NULL, *sha = NULL, *sha_back = NULL, *sha_text = NULL;
        size_t size = 0, lines = 0;
        FILE *f;

        for (size_t i = 0; names[i]; i++)
                ck_assert_int_eq(backup_list_set_hex(l, names[i], i % 2 ? SHA256_HELLO : SHA256_EMPTY), 0);
        f = open_memstream(&text, &size);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(backup_list_write(l, f, &sha), 0);
        fclose(f);
        ck_assert_int_eq(hash_sha256_buf(text, size, &sha_text), 0);
        ck_assert_str_eq(sha, sha_text);
        /* as sha256sum prints them */
        ck_assert_ptr_nonnull(strstr(text, "\\" SHA256_HELLO "  new\\nline\n"));
        ck_assert_ptr_nonnull(
                strstr(text, "\\" SHA256_EMPTY "  back\\\\slash\n")
                        ?: strstr(text, "\\" SHA256_HELLO "  back\\\\slash\n"));
        ck_assert_ptr_nonnull(strstr(text, "  carriage\\rreturn\n"));
        ck_assert_ptr_nonnull(strstr(text, "    leading spaces\n"));

        f = fmemopen(text, size, "r");
        ck_assert_int_eq(
                backup_list_read(f, "files.sha256", NULL, false, &back, &lines, &sha_back, NULL), 0);
        fclose(f);
        ck_assert_uint_eq(lines, 7);
        ck_assert_str_eq(sha_back, sha);
        ck_assert_int_eq(backup_list_compare(l, back, NULL), 0);
        for (size_t i = 0; names[i]; i++)
                ck_assert_ptr_nonnull(backup_list_find(back, names[i]));

        /* a selection: every line read and checksummed, only some kept */
        f = fmemopen(text, size, "r");
        ck_assert_int_eq(backup_list_read(f, "files.sha256", "dir/", true, &stores, &lines, NULL, NULL), 0);
        fclose(f);
        ck_assert_uint_eq(lines, 7);
        ck_assert_uint_eq(stores->n, 1);
}
END_TEST

static int read_text(const char *text, char **ret_error) {
        _cleanup_file_list_ BackupFileList *l = NULL;
        FILE *f = fmemopen((void *)text, strlen(text), "r");
        int r;

        ck_assert_ptr_nonnull(f);
        r = backup_list_read(f, "files.sha256", NULL, false, &l, NULL, NULL, ret_error);
        fclose(f);
        return r;
}

START_TEST(test_list_refused) {
        static const struct {
                const char *text, *error;
        } bad[] = {
                { SHA256_EMPTY "  a\n" SHA256_EMPTY "  b",
                  "files.sha256:2: the last line has no newline: the file is cut short" },
                { SHA256_EMPTY "  b\n" SHA256_EMPTY "  a\n",
                  "files.sha256:2: the path sorts before the line before's: the list is not sorted" },
                { SHA256_EMPTY "  a\n" SHA256_EMPTY "  a\n",
                  "files.sha256:2: the same path as the line before" },
                { "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855  a\n",
                  "files.sha256:1: not a SHA-256 in lowercase hex" },
                { SHA256_EMPTY " ab\n", "files.sha256:1: not two spaces after the checksum" },
                { SHA256_EMPTY "  /etc/shadow\n",
                  "files.sha256:1: a path that is not relative to the backup (absolute, empty, \".\" or "
                  "\"..\")" },
                { SHA256_EMPTY "  a/../../x\n",
                  "files.sha256:1: a path that is not relative to the backup (absolute, empty, \".\" or "
                  "\"..\")" },
                { SHA256_EMPTY "  a\\b\n", "files.sha256:1: a backslash sha256sum would have escaped" },
                { "\\" SHA256_EMPTY "  a\\tb\n", "files.sha256:1: an escape other than \\n, \\r or \\\\" },
                { "\\" SHA256_EMPTY "  ab\n",
                  "files.sha256:1: a leading backslash on a path that needs no escape" },
                { "\n", "files.sha256:1: not \"<sha256 hex>  <path>\"" },
        };
        _cleanup_free_ char *ok = NULL;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *error = NULL;

                ck_assert_int_eq(read_text(bad[i].text, &error), -EBADMSG);
                ck_assert_str_eq(error, bad[i].error);
        }
        ck_assert_int_eq(read_text("", &ok), 0);
        ck_assert_ptr_null(ok);
}
END_TEST

static Suite *backup_list_suite(void) {
        Suite *s = suite_create("backup-list");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_list_compare_replace);
        tcase_add_test(tc, test_list_round_trip);
        tcase_add_test(tc, test_list_refused);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(backup_list_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
