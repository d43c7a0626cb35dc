/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-backup-manifest.c: backup naming, tree hashing and checking, the list in a backup, comparing,
 * removing */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "backup-manifest.h"
#include "hash.h"
#include "state.h"
#include "json-util.h"
#include "macro.h"

/* sha256("hello\n") and sha256("") */
#define SHA256_HELLO "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static char *make_tmpdir(void) {
        char *d = strdup("/tmp/test-backup-manifest.XXXXXX");

        ck_assert_ptr_nonnull(d);
        ck_assert_ptr_nonnull(mkdtemp(d));
        return d;
}

static void write_file(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *p = NULL;
        int fd;

        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
        close(fd);
}

static void make_dir(const char *dir, const char *name) {
        _cleanup_free_ char *p = NULL;

        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
        ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void make_symlink(const char *dir, const char *name, const char *target) {
        _cleanup_free_ char *p = NULL;

        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
        ck_assert_int_eq(symlink(target, p), 0);
}

static void remove_file(const char *dir, const char *name) {
        _cleanup_free_ char *p = NULL;

        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
        ck_assert_int_eq(unlink(p), 0);
}

static bool exists(const char *dir, const char *name) {
        _cleanup_free_ char *p = NULL;
        struct stat st;

        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
        return lstat(p, &st) >= 0;
}

START_TEST(test_dir_name) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        char *c = NULL;

        ck_assert_int_eq(backup_manifest_dir_name(0, "1.4.0", "1.5.0", &a), 0);
        ck_assert_str_eq(a, "19700101T000000Z-1.4.0-to-1.5.0");
        ck_assert_int_eq(backup_manifest_dir_name(1795000000, "1.4.0", "1.5.0-rc.1", &b), 0);
        ck_assert_str_eq(b, "20261118T110640Z-1.4.0-to-1.5.0-rc.1");

        ck_assert_int_eq(backup_manifest_dir_name(0, "a/b", "1.5.0", &c), -EINVAL);
        ck_assert_int_eq(backup_manifest_dir_name(0, "", "1.5.0", &c), -EINVAL);
        ck_assert_int_eq(backup_manifest_dir_name(0, "1.4.0", NULL, &c), -EINVAL);
        ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_copy_path) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        char *c = NULL;

        ck_assert_int_eq(backup_manifest_copy_path("/b/x.partial", "stores", "/var/lib/codebolt/kg", &a), 0);
        ck_assert_str_eq(a, "/b/x.partial/stores/var/lib/codebolt/kg");
        ck_assert_int_eq(backup_manifest_copy_path("/b", "config", "/etc/codebolt/master-key-id//", &b), 0);
        ck_assert_str_eq(b, "/b/config/etc/codebolt/master-key-id");

        ck_assert_int_eq(backup_manifest_copy_path("/b", "stores", "var/lib", &c), -EINVAL);
        ck_assert_int_eq(backup_manifest_copy_path("/b", "stores", "/var/../etc", &c), -EINVAL);
        ck_assert_int_eq(backup_manifest_copy_path("/b", "stores", "/var/lib/..", &c), -EINVAL);
        ck_assert_int_eq(backup_manifest_copy_path("/b", "stores", "/var/./lib", &c), -EINVAL);
        ck_assert_int_eq(backup_manifest_copy_path("/b", "stores", "/", &c), -EINVAL);
        ck_assert_int_eq(backup_manifest_copy_path("/b", "stores", "//", &c), -EINVAL);
        ck_assert_int_eq(backup_manifest_copy_path("/b", "stores", NULL, &c), -EINVAL);
        ck_assert_ptr_null(c);

        /* a name that merely starts with dots is a name */
        ck_assert_int_eq(backup_manifest_copy_path("/b", "stores", "/srv/..data", &c), 0);
        ck_assert_str_eq(c, "/b/stores/srv/..data");
        free(c);
}
END_TEST

START_TEST(test_db_name) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        char long_db[64], *e = NULL;

        ck_assert_int_eq(
                backup_manifest_db_name("codebolt", "pre", "0123456789ABCDEF0123456789abcdef", 12, &a), 0);
        ck_assert_str_eq(a, "codebolt_pre_0123456789ab");
        ck_assert_int_eq(backup_manifest_db_name("codebolt", "verify", "0123456789abcdef", 8, &b), 0);
        ck_assert_str_eq(b, "codebolt_verify_01234567");
        /* a dashed uuid or a timestamp: letters and digits only */
        ck_assert_int_eq(backup_manifest_db_name("cb", "pre", "ab-cd_ef:01", 12, &c), 0);
        ck_assert_str_eq(c, "cb_pre_abcdef01");
        ck_assert_int_eq(backup_manifest_db_name("cb", "pre", "20261126T105713Z", 15, &d), 0);
        ck_assert_str_eq(d, "cb_pre_20261126t105713");

        ck_assert_int_eq(backup_manifest_db_name("cb", "pre", "", 12, &e), -EINVAL);
        ck_assert_int_eq(backup_manifest_db_name("cb", "pre", "---", 12, &e), -EINVAL);
        ck_assert_int_eq(backup_manifest_db_name("cb", "pre", NULL, 12, &e), -EINVAL);
        ck_assert_int_eq(backup_manifest_db_name("", "pre", "abc", 12, &e), -EINVAL);

        /* PostgreSQL would truncate it silently, perhaps into a name that exists */
        memset(long_db, 'x', 50);
        long_db[50] = 0;
        ck_assert_int_eq(backup_manifest_db_name(long_db, "pre", "0123456789ab", 12, &e), -ENAMETOOLONG);
        long_db[46] = 0; /* 46 + "_pre_" + 12 = 63 */
        ck_assert_int_eq(backup_manifest_db_name(long_db, "pre", "0123456789ab", 12, &e), 0);
        ck_assert_uint_eq(strlen(e), 63);
        free(e);
}
END_TEST

/* the hex of path's value in l, or NULL; in a static buffer */
static const char *list_hex(const BackupFileList *l, const char *path) {
        static char hex[2 * BACKUP_LIST_VALUE_SIZE + 1];
        const uint8_t *v = backup_list_find(l, path);

        if (!v)
                return NULL;
        backup_list_value_hex(v, hex);
        return hex;
}

START_TEST(test_hash_tree) {
        _cleanup_free_ char *dir = make_tmpdir(), *outside = make_tmpdir();
        _cleanup_file_list_ BackupFileList *files = NULL, *prefixed = NULL, *all = NULL;
        _cleanup_json_ cJSON *links = NULL;
        BackupTreeStats st = {};

        write_file(dir, "manifest.json", "{}");
        write_file(dir, "files.sha256", "");
        write_file(dir, "files.sha256.new", "");
        write_file(dir, "b", "hello\n");
        write_file(dir, "a", "");
        write_file(dir, "a-b", "");
        make_dir(dir, "sub");
        write_file(dir, "sub/manifest.json", "hello\n");
        make_dir(dir, "sub/deeper");
        write_file(dir, "sub/deeper/c", "hello\n");
        write_file(outside, "secret", "hello\n");
        make_symlink(dir, "link-dir", outside);
        make_symlink(dir, "sub/link-file", "../b");
        {
                _cleanup_free_ char *fifo = NULL;
                ck_assert_int_ge(asprintf(&fifo, "%s/sub/fifo", dir), 0);
                ck_assert_int_eq(mkfifo(fifo, 0600), 0);
        }

        ck_assert_int_eq(
                backup_manifest_hash_tree(dir, NULL, BACKUP_HASH_SKIP_MANIFEST, &files, &links, &st), 0);
        ck_assert_uint_eq(files->n, 5);
        ck_assert_str_eq(list_hex(files, "a"), SHA256_EMPTY);
        ck_assert_str_eq(list_hex(files, "b"), SHA256_HELLO);
        ck_assert_str_eq(list_hex(files, "sub/manifest.json"), SHA256_HELLO);
        ck_assert_str_eq(list_hex(files, "sub/deeper/c"), SHA256_HELLO);
        ck_assert_ptr_null(list_hex(files, "manifest.json"));
        ck_assert_ptr_null(list_hex(files, "files.sha256"));
        /* symlinks recorded, never followed */
        ck_assert_int_eq(cJSON_GetArraySize(links), 2);
        ck_assert_str_eq(json_get_string(links, "link-dir"), outside);
        ck_assert_str_eq(json_get_string(links, "sub/link-file"), "../b");
        ck_assert_uint_eq(st.files, 5);
        ck_assert_uint_eq(st.bytes, 18);
        ck_assert_uint_eq(st.symlinks, 2);
        ck_assert_uint_eq(st.other, 1);

        /* sorted by path as bytes, not per directory: "a-b" before "a/…" would be, "sub/deeper/c" first */
        {
                static const char *order[] = { "a", "a-b", "b", "sub/deeper/c", "sub/manifest.json" };
                for (size_t i = 0; i < files->n; i++)
                        ck_assert_str_eq(backup_list_path(files, i), order[i]);
        }

        ck_assert_int_eq(backup_manifest_hash_tree(dir, "stores/x/", 0, &all, NULL, NULL), 0);
        ck_assert_uint_eq(all->n, 8);
        ck_assert_str_eq(
                list_hex(all, "stores/x/manifest.json"),
                "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
        ck_assert_str_eq(list_hex(all, "stores/x/sub/deeper/c"), SHA256_HELLO);

        ck_assert_int_eq(
                backup_manifest_hash_tree("/nonexistent/dir", NULL, 0, &prefixed, NULL, NULL), -ENOENT);
        ck_assert_ptr_null(prefixed);

        ck_assert_int_eq(backup_manifest_remove_tree(dir), 0);
        ck_assert_int_eq(backup_manifest_remove_tree(outside), 0);
}
END_TEST

/* the delta walk: a file whose status changed before `since` keeps the checksum it had (even a wrong
 * one: proof that it was not read), one changed after is read again and listed; unknown files are read */
START_TEST(test_hash_tree_reuse) {
        static const uint8_t not_read[BACKUP_LIST_VALUE_SIZE] = { 0xee };
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_file_list_ BackupFileList *known = NULL, *files = NULL, *stat1 = NULL, *stat2 = NULL,
                                           *unknown = NULL, *listed = backup_list_new();
        _cleanup_json_ cJSON *rehashed = cJSON_CreateArray(), *all_read = cJSON_CreateArray();
        BackupHashReuse reuse = { .rehashed = rehashed, .stats = listed };
        struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 };
        _cleanup_free_ char *bad = NULL;

        write_file(dir, "kept", "hello\n");
        write_file(dir, "rewritten", "hello\n");
        ck_assert_int_eq(backup_manifest_hash_tree(dir, "s/", 0, &known, NULL, NULL), 0);
        ck_assert_int_eq(backup_manifest_hash_tree(dir, "s/", BACKUP_HASH_STAT_ONLY, &stat1, NULL, NULL), 0);
        /* stat only: the size first, little-endian, nothing read */
        ck_assert_uint_eq(backup_list_find(stat1, "s/kept")[0], 6);
        memcpy((uint8_t *)backup_list_find(known, "s/kept"), not_read, sizeof(not_read));

        /* past the clock's tick: the next change is stamped after `since` */
        nanosleep(&ts, NULL);
        ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &reuse.since), 0);
        nanosleep(&ts, NULL);
        write_file(dir, "rewritten", "");
        write_file(dir, "new", "hello\n");
        reuse.known = known;
        ck_assert_int_eq(backup_manifest_hash_tree_reuse(dir, "s/", 0, &reuse, &files, NULL, NULL), 0);
        ck_assert_uint_eq(files->n, 3);
        ck_assert_mem_eq(backup_list_find(files, "s/kept"), not_read, sizeof(not_read));
        ck_assert_str_eq(list_hex(files, "s/rewritten"), SHA256_EMPTY);
        ck_assert_str_eq(list_hex(files, "s/new"), SHA256_HELLO);
        ck_assert_int_eq(cJSON_GetArraySize(rehashed), 2);
        ck_assert_str_eq(cJSON_GetArrayItem(rehashed, 0)->valuestring, "s/new");
        ck_assert_str_eq(cJSON_GetArrayItem(rehashed, 1)->valuestring, "s/rewritten");

        /* the same walk lists the files as BACKUP_HASH_STAT_ONLY would */
        ck_assert_uint_eq(listed->n, 3);
        ck_assert_mem_eq(
                backup_list_find(listed, "s/kept"),
                backup_list_find(stat1, "s/kept"),
                BACKUP_LIST_VALUE_SIZE);
        ck_assert_uint_eq(backup_list_find(listed, "s/rewritten")[0], 0);

        /* the check as it walks: the same reuse gives what the list holds; the unread wrong checksum
         * passes, the known list (without "new") does not */
        ck_assert_int_eq(
                backup_manifest_check_tree(
                        dir,
                        "s/",
                        0,
                        &(BackupHashReuse){ .known = known, .since = reuse.since },
                        files,
                        NULL,
                        NULL,
                        &bad),
                0);
        ck_assert_int_eq(
                backup_manifest_check_tree(
                        dir,
                        "s/",
                        0,
                        &(BackupHashReuse){ .known = known, .since = reuse.since },
                        known,
                        NULL,
                        NULL,
                        &bad),
                -EBADMSG);
        ck_assert_str_eq(bad, "s/new");

        /* nothing known: every file is read */
        ck_assert_int_eq(
                backup_manifest_hash_tree_reuse(
                        dir, "s/", 0, &(BackupHashReuse){ .rehashed = all_read }, &unknown, NULL, NULL),
                0);
        ck_assert_str_eq(list_hex(unknown, "s/kept"), SHA256_HELLO);
        ck_assert_int_eq(cJSON_GetArraySize(all_read), 3);

        /* the stat listing sees the rewritten file's new size */
        ck_assert_int_eq(backup_manifest_hash_tree(dir, "s/", BACKUP_HASH_STAT_ONLY, &stat2, NULL, NULL), 0);
        ck_assert_mem_eq(
                backup_list_find(stat2, "s/kept"),
                backup_list_find(stat1, "s/kept"),
                BACKUP_LIST_VALUE_SIZE);
        ck_assert_uint_eq(backup_list_find(stat2, "s/rewritten")[0], 0);

        ck_assert_int_eq(backup_manifest_remove_tree(dir), 0);
}
END_TEST

/* the walk compared as it goes: extra, changed, missing, and only expected's entries under the prefix */
START_TEST(test_check_tree) {
        _cleanup_free_ char *dir = make_tmpdir(), *p1 = NULL, *p2 = NULL, *p3 = NULL;
        _cleanup_file_list_ BackupFileList *want = backup_list_new();
        BackupTreeStats st = {};

        write_file(dir, "a", "hello\n");
        make_dir(dir, "d");
        write_file(dir, "d/b", "");
        ck_assert_int_eq(backup_list_set_hex(want, "s/a", SHA256_HELLO), 0);
        ck_assert_int_eq(backup_list_set_hex(want, "s/d/b", SHA256_EMPTY), 0);
        ck_assert_int_eq(backup_list_set_hex(want, "database.dump", SHA256_EMPTY), 0);
        ck_assert_int_eq(backup_list_set_hex(want, "s-other/x", SHA256_EMPTY), 0);
        ck_assert_int_eq(backup_manifest_check_tree(dir, "s/", 0, NULL, want, NULL, &st, NULL), 0);
        ck_assert_uint_eq(st.files, 2);

        write_file(dir, "d/c", "");
        ck_assert_int_eq(backup_manifest_check_tree(dir, "s/", 0, NULL, want, NULL, NULL, &p1), -EBADMSG);
        ck_assert_str_eq(p1, "s/d/c");
        remove_file(dir, "d/c");
        write_file(dir, "a", "changed\n");
        ck_assert_int_eq(backup_manifest_check_tree(dir, "s/", 0, NULL, want, NULL, NULL, &p2), -EBADMSG);
        ck_assert_str_eq(p2, "s/a");
        write_file(dir, "a", "hello\n");
        remove_file(dir, "d/b");
        ck_assert_int_eq(backup_manifest_check_tree(dir, "s/", 0, NULL, want, NULL, NULL, &p3), -EBADMSG);
        ck_assert_str_eq(p3, "s/d/b");

        ck_assert_int_eq(backup_manifest_remove_tree(dir), 0);
}
END_TEST

static BackupFileList *list_of(const char *const *paths_and_hex) {
        BackupFileList *l = backup_list_new();

        ck_assert_ptr_nonnull(l);
        for (size_t i = 0; paths_and_hex[i]; i += 2)
                ck_assert_int_eq(backup_list_set_hex(l, paths_and_hex[i], paths_and_hex[i + 1]), 0);
        return l;
}

/* the list beside the manifest: written, found, refused when changed or cut short; the old form read */
START_TEST(test_load_list) {
        _cleanup_free_ char *dir = make_tmpdir(), *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL,
                            *path = NULL;
        _cleanup_file_list_ BackupFileList *l = list_of((const char *const[]){ "database.dump",
                                                                               SHA256_EMPTY,
                                                                               "stores/s/a",
                                                                               SHA256_HELLO,
                                                                               "stores/s/b",
                                                                               SHA256_EMPTY,
                                                                               NULL });
        _cleanup_file_list_ BackupFileList *all = NULL, *outside = NULL, *again = NULL, *old = NULL,
                                           *old_stores = NULL, *none = NULL;
        _cleanup_json_ cJSON *manifest = cJSON_Parse("{\"verified\": true, \"files\": {\"x\": \"y\"}}");
        _cleanup_json_ cJSON *old_manifest = NULL;
        _cleanup_free_ char *old_text = NULL;
        struct stat st;

        ck_assert_int_eq(backup_manifest_write_list(dir, l, manifest), 0);
        ck_assert_ptr_null(cJSON_GetObjectItem(manifest, "files"));
        ck_assert_str_eq(
                json_get_string(cJSON_GetObjectItem(manifest, "files_list"), "name"), "files.sha256");
        ck_assert_int_eq(
                cJSON_GetNumberValue(
                        cJSON_GetObjectItem(cJSON_GetObjectItem(manifest, "files_list"), "count")),
                3);
        /* written, not yet committed: found under its new name */
        ck_assert_int_eq(backup_manifest_load_list(dir, manifest, NULL, false, &all, NULL), 0);
        ck_assert_int_eq(backup_list_compare(l, all, NULL), 0);
        ck_assert_int_eq(backup_manifest_commit_list(dir), 0);
        ck_assert_int_eq(backup_manifest_load_list(dir, manifest, "stores/", false, &outside, NULL), 0);
        ck_assert_uint_eq(outside->n, 1);
        ck_assert_str_eq(backup_list_path(outside, 0), "database.dump");
        ck_assert(exists(dir, "files.sha256"));
        ck_assert(!exists(dir, "files.sha256.new"));

        /* a line changed, the checksum still well-formed: the list's own checksum refuses it */
        write_file(
                dir,
                "files.sha256",
                SHA256_HELLO "  database.dump\n" SHA256_HELLO "  stores/s/a\n" SHA256_EMPTY
                             "  stores/s/b\n");
        ck_assert_int_eq(backup_manifest_load_list(dir, manifest, NULL, false, &again, &e1), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(e1, "/files.sha256: 3 lines with the checksum "));
        ck_assert_ptr_nonnull(strstr(e1, "changed or cut short"));
        /* cut short at a line's end: the count and the checksum refuse it */
        write_file(dir, "files.sha256", SHA256_EMPTY "  database.dump\n");
        ck_assert_int_eq(backup_manifest_load_list(dir, manifest, NULL, false, &again, &e2), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(e2, "1 lines"));
        /* cut inside a line: the line is named */
        write_file(dir, "files.sha256", SHA256_EMPTY "  database.du");
        ck_assert_int_eq(backup_manifest_load_list(dir, manifest, NULL, false, &again, &e3), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(e3, "/files.sha256:1: the last line has no newline"));
        ck_assert_ptr_null(again);
        /* a manifest without the summary */
        ck_assert_int_eq(backup_manifest_load_list(dir, old_manifest, NULL, false, &again, &e4), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(e4, "no \"files_list\""));

        /* an earlier release's manifest: "files" inside it (tests/fixtures/backup-manifest/) */
        ck_assert_int_ge(asprintf(&path, "%s/backup-manifest/manifest-1.json", FIXTURES), 0);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(state_read_file(path, &old_text, NULL), 0);
        old_manifest = cJSON_Parse(old_text);
        ck_assert_ptr_nonnull(old_manifest);
        ck_assert_int_eq(
                backup_manifest_load_list("/nonexistent", old_manifest, NULL, false, &old, NULL), 0);
        ck_assert_uint_eq(old->n, 4);
        ck_assert_str_eq(list_hex(old, "stores/var/lib/codebolt/kg/graph.json"), SHA256_HELLO);
        ck_assert_int_eq(
                backup_manifest_load_list("/nonexistent", old_manifest, "stores/", true, &old_stores, NULL),
                0);
        ck_assert_uint_eq(old_stores->n, 2);
        ck_assert_int_eq(
                backup_manifest_load_list("/nonexistent", manifest, NULL, false, &none, NULL), -ENOENT);

        ck_assert_int_eq(backup_manifest_remove_tree(dir), 0);
}
END_TEST

START_TEST(test_compare) {
        _cleanup_json_ cJSON *a = cJSON_Parse("{\"x\": \"1\", \"y\": \"2\", \"z\": \"3\"}");
        _cleanup_json_ cJSON *same = cJSON_Parse("{\"z\": \"3\", \"x\": \"1\", \"y\": \"2\"}");
        _cleanup_json_ cJSON *missing = cJSON_Parse("{\"x\": \"1\", \"z\": \"3\"}");
        _cleanup_json_ cJSON *extra =
                cJSON_Parse("{\"x\": \"1\", \"y\": \"2\", \"yy\": \"9\", \"z\": \"3\"}");
        _cleanup_json_ cJSON *changed = cJSON_Parse("{\"x\": \"1\", \"y\": \"5\", \"z\": \"3\"}");
        _cleanup_json_ cJSON *empty = cJSON_CreateObject();
        _cleanup_free_ char *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL;
        char *none = NULL;

        ck_assert_int_eq(backup_manifest_compare(a, same, &none), 0);
        ck_assert_ptr_null(none);
        ck_assert_int_eq(backup_manifest_compare(empty, empty, NULL), 0);
        ck_assert_int_eq(backup_manifest_compare(a, missing, &p1), -EBADMSG);
        ck_assert_str_eq(p1, "y");
        ck_assert_int_eq(backup_manifest_compare(a, extra, &p2), -EBADMSG);
        ck_assert_str_eq(p2, "yy");
        ck_assert_int_eq(backup_manifest_compare(a, changed, &p3), -EBADMSG);
        ck_assert_str_eq(p3, "y");
        ck_assert_int_eq(backup_manifest_compare(empty, a, &p4), -EBADMSG);
        ck_assert_str_eq(p4, "x");
        ck_assert_int_eq(backup_manifest_compare(a, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_replace_prefix) {
        _cleanup_json_ cJSON *files = cJSON_Parse("{\"database.dump\": \"d\", \"stores/a/1\": \"old\", "
                                                  "\"stores/a/2\": \"old\", \"stores/ab/1\": \"keep\"}");
        _cleanup_json_ cJSON *update = cJSON_Parse("{\"stores/a/1\": \"new\", \"stores/a/3\": \"new\"}");
        _cleanup_json_ cJSON *bad = cJSON_Parse("{\"stores/b/1\": \"x\"}");
        _cleanup_json_ cJSON *want = cJSON_Parse("{\"database.dump\": \"d\", \"stores/ab/1\": \"keep\", "
                                                 "\"stores/a/1\": \"new\", \"stores/a/3\": \"new\"}");

        ck_assert_int_eq(backup_manifest_replace_prefix(files, "stores/a/", update), 0);
        ck_assert_int_eq(backup_manifest_compare(want, files, NULL), 0);
        ck_assert_int_eq(backup_manifest_replace_prefix(files, "stores/a/", bad), -EINVAL);
        ck_assert_int_eq(backup_manifest_compare(want, files, NULL), 0);
}
END_TEST

START_TEST(test_remove_tree) {
        _cleanup_free_ char *dir = make_tmpdir(), *outside = make_tmpdir(), *victim = NULL, *link = NULL;

        ck_assert_int_ge(asprintf(&victim, "%s/t", dir), 0);
        make_dir(dir, "t");
        make_dir(dir, "t/a");
        make_dir(dir, "t/a/b");
        write_file(dir, "t/a/b/f", "x");
        write_file(dir, "t/g", "y");
        ck_assert_int_eq(chmod(victim, 0500), 0); /* root needs no write bit; others get EACCES */
        write_file(outside, "keep", "z");
        make_dir(outside, "keepdir");
        write_file(outside, "keepdir/f", "z");
        make_symlink(dir, "t/a/to-outside", outside);
        make_symlink(dir, "t/a/to-outside-file", "../../../keep");

        if (geteuid() != 0)
                ck_assert_int_eq(chmod(victim, 0700), 0);
        ck_assert_int_eq(backup_manifest_remove_tree(victim), 0);
        ck_assert(!exists(dir, "t"));
        ck_assert(exists(outside, "keep"));
        ck_assert(exists(outside, "keepdir/f"));
        ck_assert_int_eq(backup_manifest_remove_tree(victim), -ENOENT);

        /* a symlink at the path itself goes, its target stays */
        ck_assert_int_ge(asprintf(&link, "%s/l", dir), 0);
        make_symlink(dir, "l", outside);
        ck_assert_int_eq(backup_manifest_remove_tree(link), 0);
        ck_assert(!exists(dir, "l"));
        ck_assert(exists(outside, "keepdir/f"));

        /* a single file, and a trailing slash */
        write_file(dir, "file", "x");
        make_dir(dir, "d");
        free(link);
        ck_assert_int_ge(asprintf(&link, "%s/file", dir), 0);
        ck_assert_int_eq(backup_manifest_remove_tree(link), 0);
        free(link);
        ck_assert_int_ge(asprintf(&link, "%s/d/", dir), 0);
        ck_assert_int_eq(backup_manifest_remove_tree(link), 0);
        ck_assert(!exists(dir, "d"));

        ck_assert_int_eq(backup_manifest_remove_tree(dir), 0);
        ck_assert_int_eq(backup_manifest_remove_tree(outside), 0);
}
END_TEST

START_TEST(test_resolve_counts) {
        _cleanup_json_ cJSON *before = cJSON_Parse("{\"public.a\": 10, \"public.b\": 5, \"public.c\": 7}");
        _cleanup_json_ cJSON *after = cJSON_Parse("{\"public.a\": 10, \"public.b\": 8, \"public.c\": 6}");
        _cleanup_json_ cJSON *restored = cJSON_Parse("{\"public.a\": 10, \"public.b\": 6, \"public.c\": 7}");
        _cleanup_json_ cJSON *off = cJSON_Parse("{\"public.a\": 11, \"public.b\": 6, \"public.c\": 7}");
        _cleanup_json_ cJSON *out_of_range =
                cJSON_Parse("{\"public.a\": 10, \"public.b\": 9, \"public.c\": 7}");
        _cleanup_json_ cJSON *missing = cJSON_Parse("{\"public.a\": 10, \"public.b\": 6}");
        _cleanup_json_ cJSON *extra =
                cJSON_Parse("{\"public.a\": 10, \"public.b\": 6, \"public.c\": 7, \"public.d\": 0}");
        _cleanup_json_ cJSON *created =
                cJSON_Parse("{\"public.a\": 10, \"public.b\": 8, \"public.c\": 6, \"x.y\": 1}");
        _cleanup_json_ cJSON *tables = NULL, *changed = NULL, *lower = NULL, *lower_changed = NULL,
                             *t = NULL, *c = NULL;
        _cleanup_free_ char *w1 = NULL, *w2 = NULL, *w3 = NULL, *w4 = NULL, *w5 = NULL, *w6 = NULL;

        /* a: unchanged, exact; b and c: written during the dump, the restore tells */
        ck_assert_int_eq(
                backup_manifest_resolve_counts(before, after, restored, &tables, &changed, NULL), 0);
        ck_assert_int_eq(cJSON_GetObjectItem(tables, "public.a")->valueint, 10);
        ck_assert_int_eq(cJSON_GetObjectItem(tables, "public.b")->valueint, 6);
        ck_assert_int_eq(cJSON_GetObjectItem(tables, "public.c")->valueint, 7);
        ck_assert_int_eq(cJSON_GetArraySize(changed), 2);
        ck_assert_str_eq(cJSON_GetArrayItem(changed, 0)->valuestring, "public.b");

        /* no trial restore: the lower bound */
        ck_assert_int_eq(
                backup_manifest_resolve_counts(before, after, NULL, &lower, &lower_changed, NULL), 0);
        ck_assert_int_eq(cJSON_GetObjectItem(lower, "public.b")->valueint, 5);
        ck_assert_int_eq(cJSON_GetObjectItem(lower, "public.c")->valueint, 6);

        ck_assert_int_eq(backup_manifest_resolve_counts(before, after, off, &t, &c, &w1), -EBADMSG);
        ck_assert_str_eq(w1, "it holds 11 rows in public.a, the database 10");
        ck_assert_int_eq(backup_manifest_resolve_counts(before, after, out_of_range, &t, &c, &w2), -EBADMSG);
        ck_assert_str_eq(
                w2, "it holds 9 rows in public.b, the database between 5 and 8 while it was dumped");
        ck_assert_int_eq(backup_manifest_resolve_counts(before, after, missing, &t, &c, &w3), -EBADMSG);
        ck_assert_str_eq(w3, "it has no table public.c");
        ck_assert_int_eq(backup_manifest_resolve_counts(before, after, extra, &t, &c, &w4), -EBADMSG);
        ck_assert_str_eq(w4, "it has a table public.d the database does not have");
        ck_assert_int_eq(backup_manifest_resolve_counts(before, created, NULL, &t, &c, &w5), -EBUSY);
        ck_assert_str_eq(w5, "table x.y was created");
        ck_assert_int_eq(backup_manifest_resolve_counts(created, after, NULL, &t, &c, &w6), -EBUSY);
        ck_assert_str_eq(w6, "table x.y was dropped");
        ck_assert_int_eq(backup_manifest_resolve_counts(before, after, off, &t, &c, NULL), -EBADMSG);
        ck_assert_ptr_null(t);
        ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_format_bytes) {
        _cleanup_free_ char *a = backup_manifest_format_bytes(0), *b = backup_manifest_format_bytes(1023),
                            *c = backup_manifest_format_bytes(1536),
                            *d = backup_manifest_format_bytes(5ULL << 30);

        ck_assert_str_eq(a, "0 B");
        ck_assert_str_eq(b, "1023 B");
        ck_assert_str_eq(c, "1.5 KiB");
        ck_assert_str_eq(d, "5.0 GiB");
}
END_TEST

/* every store in one rsync: each copy exact (extra files go), what lies beside the copies stays, and the
 * copies' parents keep their modes */
START_TEST(test_rsync_dirs) {
        static const char *const dirs_made[] = { "var",
                                                 "var/lib",
                                                 "var/lib/s1",
                                                 "var/lib/s1/sub",
                                                 "var/lib/s2",
                                                 "backup",
                                                 "backup/stores",
                                                 "backup/stores/var",
                                                 "backup/stores/var/lib",
                                                 "backup/stores/var/lib/s1" };
        _cleanup_free_ char *root = make_tmpdir(), *backup = NULL, *parent = NULL;
        char *dirs[] = { (char *)"/var/lib/s1", (char *)"/var/lib/s2", NULL };
        struct stat st;
        int status = -1;

        ck_assert_int_eq(setenv("CODEBOLT_UPGRADE_ROOT", root, 1), 0);
        for (size_t i = 0; i < ELEMENTSOF(dirs_made); i++)
                make_dir(root, dirs_made[i]);
        write_file(root, "var/lib/s1/a", "hello\n");
        write_file(root, "var/lib/s1/sub/b", "");
        write_file(root, "var/lib/s2/x", "x");
        write_file(root, "backup/stores/var/lib/s1/gone", "old");
        write_file(root, "backup/stores/var/lib/beside", "kept");
        ck_assert_int_ge(asprintf(&backup, "%s/backup", root), 0);
        ck_assert_int_ge(asprintf(&parent, "%s/backup/stores/var/lib", root), 0);
        ck_assert_int_eq(chmod(parent, 0700), 0);

        ck_assert_int_eq(backup_manifest_rsync_dirs(dirs, backup, "stores", &status), 0);
        ck_assert_int_eq(status, 0);
        ck_assert(exists(root, "backup/stores/var/lib/s1/a"));
        ck_assert(exists(root, "backup/stores/var/lib/s1/sub/b"));
        ck_assert(exists(root, "backup/stores/var/lib/s2/x"));
        ck_assert(!exists(root, "backup/stores/var/lib/s1/gone"));
        ck_assert(exists(root, "backup/stores/var/lib/beside"));
        ck_assert_int_eq(stat(parent, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0700);

        /* a store that is not there fails rsync, which says so */
        dirs[1] = (char *)"/var/lib/missing";
        ck_assert_int_eq(backup_manifest_rsync_dirs(dirs, backup, "stores", &status), 0);
        ck_assert_int_ne(status, 0);
        ck_assert_int_eq(backup_manifest_remove_tree(root), 0);
}
END_TEST

static Suite *backup_manifest_suite(void) {
        Suite *s = suite_create("backup-manifest");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_dir_name);
        tcase_add_test(tc, test_copy_path);
        tcase_add_test(tc, test_db_name);
        tcase_add_test(tc, test_hash_tree);
        tcase_add_test(tc, test_hash_tree_reuse);
        tcase_add_test(tc, test_check_tree);
        tcase_add_test(tc, test_load_list);
        tcase_add_test(tc, test_compare);
        tcase_add_test(tc, test_replace_prefix);
        tcase_add_test(tc, test_remove_tree);
        tcase_add_test(tc, test_resolve_counts);
        tcase_add_test(tc, test_format_bytes);
        tcase_add_test(tc, test_rsync_dirs);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(backup_manifest_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
