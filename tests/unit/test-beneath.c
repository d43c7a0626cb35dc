/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-beneath.c: beneath module: opening inside a tree another user writes, never leaving it */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "beneath.h"
#include "json-util.h"
#include "macro.h"
#include "test-util.h"

/* a tree: <dir>/tree/{a/b/file, a/link-up -> ../a/b, abs -> /etc, out -> ../outside, fifo}, and
 * <dir>/outside/secret; *ret_fd is tree/ */
static char *make_tree(int *ret_fd) {
        char *d = strdup("/tmp/test-beneath.XXXXXX");
        _cleanup_free_ char *p = NULL;

        ck_assert_ptr_nonnull(d);
        ck_assert_ptr_nonnull(mkdtemp(d));
        ck_assert_int_ge(
                asprintf(
                        &p,
                        "mkdir -p %1$s/tree/a/b %1$s/outside && echo '{\"v\":1}' >%1$s/tree/a/b/file && "
                        "echo secret >%1$s/outside/secret && ln -s ../a/b %1$s/tree/a/link-up && "
                        "ln -s /etc %1$s/tree/abs && ln -s ../outside %1$s/tree/out && "
                        "ln -s b/file %1$s/tree/a/rel && mkfifo %1$s/tree/fifo && "
                        "ln -s loop1 %1$s/tree/loop2 && ln -s loop2 %1$s/tree/loop1",
                        d),
                0);
        ck_assert_int_eq(system(p), 0);
        free(p);
        ck_assert_int_ge(asprintf(&p, "%s/tree", d), 0);
        *ret_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(*ret_fd, 0);
        return d;
}

START_TEST(test_open_plain) {
        _cleanup_close_ int tree = -EBADF, fd = -EBADF;
        _cleanup_rm_rf_ char *dir = make_tree(&tree);
        _cleanup_json_ cJSON *j = NULL, *k = NULL;

        fd = beneath_open(tree, "a/b/file", O_RDONLY, 0, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(beneath_read_json(tree, "a//b/./file", 1024, &j), 0);
        ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(j, "v")));
        /* ".." inside the tree is fine */
        ck_assert_int_eq(beneath_read_json(tree, "a/b/../b/file", 1024, &k), 0);
}
END_TEST

START_TEST(test_links) {
        _cleanup_close_ int tree = -EBADF;
        _cleanup_rm_rf_ char *dir = make_tree(&tree);
        _cleanup_free_ char *buf = NULL;
        int fd;

        /* no link is followed without BENEATH_FOLLOW, in any component */
        ck_assert_int_eq(beneath_open(tree, "a/link-up/file", O_RDONLY, 0, 0), -ELOOP);
        ck_assert_int_eq(beneath_open(tree, "a/rel", O_RDONLY, 0, 0), -ELOOP);
        ck_assert_int_eq(beneath_open(tree, "a/link-up", O_RDONLY | O_DIRECTORY, 0, 0), -ELOOP);
        /* with it, links that stay inside are followed */
        fd = beneath_open(tree, "a/link-up/file", O_RDONLY, 0, BENEATH_FOLLOW);
        ck_assert_int_ge(fd, 0);
        close(fd);
        fd = beneath_open(tree, "a/rel", O_PATH, 0, BENEATH_FOLLOW);
        ck_assert_int_ge(fd, 0);
        close(fd);
        /* links that leave never are */
        ck_assert_int_eq(beneath_open(tree, "abs/passwd", O_RDONLY, 0, BENEATH_FOLLOW), -EXDEV);
        ck_assert_int_eq(beneath_open(tree, "out/secret", O_RDONLY, 0, BENEATH_FOLLOW), -EXDEV);
        ck_assert_int_eq(beneath_open(tree, "../outside/secret", O_RDONLY, 0, BENEATH_FOLLOW), -EXDEV);
        ck_assert_int_eq(beneath_open(tree, "/etc/passwd", O_RDONLY, 0, BENEATH_FOLLOW), -EXDEV);
        ck_assert_int_eq(beneath_open(tree, "loop1", O_RDONLY, 0, BENEATH_FOLLOW), -ELOOP);
        ck_assert_int_eq(beneath_read_file(tree, "out/secret", 1024, BENEATH_FOLLOW, &buf, NULL), -EXDEV);
        ck_assert_ptr_null(buf);
        /* O_CREAT never creates through a link, nor opens what exists */
        ck_assert_int_eq(beneath_open(tree, "out", O_WRONLY | O_CREAT, 0600, BENEATH_FOLLOW), -EEXIST);
        ck_assert_int_eq(beneath_open(tree, "a/b/file", O_WRONLY | O_CREAT, 0600, 0), -EEXIST);
}
END_TEST

/* ".." pops the walk's own stack of directories: it never climbs above the tree, and a directory
 * moved out of the tree is no longer reached through it */
START_TEST(test_dotdot) {
        _cleanup_close_ int tree = -EBADF, fd = -EBADF;
        _cleanup_rm_rf_ char *dir = make_tree(&tree);
        _cleanup_free_ char *cmd = NULL;

        fd = beneath_open(tree, "a/b/../../a/b/file", O_RDONLY, 0, 0);
        ck_assert_int_ge(fd, 0);
        /* four levels up from a/b is outside */
        ck_assert_int_eq(beneath_open(tree, "a/b/../../../outside/secret", O_RDONLY, 0, 0), -EXDEV);
        ck_assert_int_ge(asprintf(&cmd, "mv %1$s/tree/a/b %1$s/outside/b", dir), 0);
        ck_assert_int_eq(system(cmd), 0);
        ck_assert_int_eq(beneath_open(tree, "a/b/file", O_RDONLY, 0, 0), -ENOENT);
}
END_TEST

START_TEST(test_read_file) {
        _cleanup_close_ int tree = -EBADF;
        _cleanup_rm_rf_ char *dir = make_tree(&tree);
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;

        /* a FIFO does not block the reader, and is no file */
        ck_assert_int_eq(beneath_read_file(tree, "fifo", 1024, 0, &buf, &size), -EBADFD);
        ck_assert_int_eq(beneath_read_file(tree, "a", 1024, 0, &buf, &size), -EBADFD);
        ck_assert_int_eq(beneath_read_file(tree, "a/b/file", 4, 0, &buf, &size), -EFBIG);
        ck_assert_int_eq(beneath_read_file(tree, "a/b/file", 1024, 0, &buf, &size), 0);
        ck_assert_str_eq(buf, "{\"v\":1}\n");
        ck_assert_uint_eq(size, 8);
}
END_TEST

START_TEST(test_mkdir_write_owned) {
        _cleanup_close_ int tree = -EBADF, home = -EBADF;
        _cleanup_rm_rf_ char *dir = make_tree(&tree);
        _cleanup_free_ char *buf = NULL;
        struct stat st;

        home = beneath_mkdir_owned(tree, ".home", 0700, 65534, 65534);
        ck_assert_int_ge(home, 0);
        ck_assert_int_eq(fstat(home, &st), 0);
        ck_assert_uint_eq(st.st_uid, 65534);
        ck_assert_uint_eq(st.st_mode & 07777, 0700);
        ck_assert_int_eq(beneath_write_owned(home, ".npmrc", "token\n", 6, 0600, 65534, 65534), 0);
        ck_assert_int_eq(fstatat(home, ".npmrc", &st, AT_SYMLINK_NOFOLLOW), 0);
        ck_assert_uint_eq(st.st_uid, 65534);
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        /* never over what is there, nor through a link */
        ck_assert_int_eq(beneath_write_owned(home, ".npmrc", "x", 1, 0600, 0, 0), -EEXIST);
        ck_assert_int_eq(symlinkat("/tmp/test-beneath-nowhere", home, "link"), 0);
        ck_assert_int_eq(beneath_write_owned(home, "link", "x", 1, 0600, 0, 0), -EEXIST);
        ck_assert_int_eq(access("/tmp/test-beneath-nowhere", F_OK), -1);
        ck_assert_int_eq(beneath_mkdir_owned(tree, "out", 0700, 0, 0), -EEXIST);
        ck_assert_int_eq(beneath_read_file(tree, ".home/.npmrc", 1024, 0, &buf, NULL), 0);
        ck_assert_str_eq(buf, "token\n");
}
END_TEST

START_TEST(test_dir_is_roots) {
        struct stat st = { .st_mode = S_IFDIR | 0755, .st_uid = 0 };

        ck_assert(beneath_dir_is_roots(&st));
        st.st_mode = S_IFDIR | 0775;
        ck_assert(!beneath_dir_is_roots(&st));
        st.st_mode = S_IFDIR | 0757;
        ck_assert(!beneath_dir_is_roots(&st));
        st.st_mode = S_IFDIR | 01777;
        ck_assert(!beneath_dir_is_roots(&st));
        st.st_mode = S_IFDIR | 0755;
        st.st_uid = 998;
        ck_assert(!beneath_dir_is_roots(&st));
        st.st_mode = S_IFREG | 0644;
        st.st_uid = 0;
        ck_assert(!beneath_dir_is_roots(&st));
}
END_TEST

static Suite *beneath_suite(void) {
        Suite *s = suite_create("beneath");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_open_plain);
        tcase_add_test(tc, test_links);
        tcase_add_test(tc, test_dotdot);
        tcase_add_test(tc, test_read_file);
        tcase_add_test(tc, test_mkdir_write_owned);
        tcase_add_test(tc, test_dir_is_roots);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(beneath_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
