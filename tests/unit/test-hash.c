/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-hash.c: hash module against known vectors and sha256sum(1) */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "hash.h"
#include "macro.h"

#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* run argv and return its stdout (no shell) */
static char *run_capture(char *const argv[]) {
        char *buf = NULL;
        size_t size = 0;
        int p[2], status;
        pid_t pid;
        FILE *f;

        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                dup2(p[1], STDOUT_FILENO);
                execv(argv[0], argv);
                _exit(127);
        }
        close(p[1]);

        f = open_memstream(&buf, &size);
        ck_assert_ptr_nonnull(f);
        for (;;) {
                char chunk[4096];
                ssize_t n = read(p[0], chunk, sizeof(chunk));
                ck_assert_int_ge(n, 0);
                if (n == 0)
                        break;
                fwrite(chunk, 1, (size_t)n, f);
        }
        fclose(f);
        close(p[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        return buf;
}

static char *make_file(size_t size, char **ret_data) {
        char *path = strdup("/tmp/test-hash.XXXXXX");
        char *data = malloc(size ? size : 1);
        int fd;

        ck_assert_ptr_nonnull(path);
        ck_assert_ptr_nonnull(data);
        for (size_t i = 0; i < size; i++)
                data[i] = (char)((i * 7919u) ^ (i >> 8));

        fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, data, size), (ssize_t)size);
        close(fd);

        *ret_data = data;
        return path;
}

START_TEST(test_vectors) {
        _cleanup_free_ char *empty = NULL, *abc = NULL, *longer = NULL;

        ck_assert_int_eq(hash_sha256_buf("", 0, &empty), 0);
        ck_assert_str_eq(empty, SHA256_EMPTY);
        ck_assert_int_eq(hash_sha256_buf("abc", 3, &abc), 0);
        ck_assert_str_eq(abc, SHA256_ABC);
        ck_assert_int_eq(
                hash_sha256_buf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, &longer), 0);
        ck_assert_str_eq(longer, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(test_empty_file) {
        _cleanup_free_ char *path = NULL, *data = NULL, *hex = NULL;

        path = make_file(0, &data);
        ck_assert_int_eq(hash_sha256_file(path, &hex), 0);
        ck_assert_str_eq(hex, SHA256_EMPTY);
        unlink(path);
}
END_TEST

START_TEST(test_against_sha256sum) {
        /* bigger than one read, and not a multiple of it */
        const size_t size = 3 * 128 * 1024 + 12345;
        _cleanup_free_ char *path = NULL, *data = NULL, *hex = NULL, *buf_hex = NULL, *out = NULL;

        path = make_file(size, &data);
        ck_assert_int_eq(hash_sha256_file(path, &hex), 0);
        ck_assert_int_eq(strlen(hex), HASH_SHA256_HEX_LEN);
        for (const char *c = hex; *c; c++)
                ck_assert((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'));

        out = run_capture((char *[]){ (char *)"/usr/bin/sha256sum", path, NULL });
        ck_assert_int_ge(strlen(out), HASH_SHA256_HEX_LEN);
        out[HASH_SHA256_HEX_LEN] = 0;
        ck_assert_str_eq(hex, out);

        ck_assert_int_eq(hash_sha256_buf(data, size, &buf_hex), 0);
        ck_assert_str_eq(hex, buf_hex);
        unlink(path);
}
END_TEST

START_TEST(test_fd) {
        _cleanup_free_ char *path = NULL, *data = NULL, *hex = NULL;
        int fd;

        path = make_file(3, &data);
        memcpy(data, "abc", 3);
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "abc", 3), 3);
        close(fd);

        fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(hash_sha256_fd(fd, &hex), 0);
        ck_assert_str_eq(hex, SHA256_ABC);
        close(fd);
        unlink(path);
}
END_TEST

START_TEST(test_errors) {
        char *hex = (char *)0x1;

        ck_assert_int_eq(hash_sha256_file("/nonexistent/file", &hex), -ENOENT);
        ck_assert_ptr_eq(hex, (char *)0x1); /* untouched on failure */
        ck_assert_int_eq(hash_sha256_file("/tmp", &hex), -EISDIR);
        ck_assert_ptr_eq(hex, (char *)0x1);
}
END_TEST

static Suite *hash_suite(void) {
        Suite *s = suite_create("hash");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_vectors);
        tcase_add_test(tc, test_empty_file);
        tcase_add_test(tc, test_against_sha256sum);
        tcase_add_test(tc, test_fd);
        tcase_add_test(tc, test_errors);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(hash_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
