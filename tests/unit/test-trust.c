/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-trust.c: trust module: what root runs or reads, and the directories on its way, are root's alone */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "test-root.h"
#include "macro.h"
#include "paths.h"
#include "state.h"
#include "trust.h"

#define NOBODY 65534

/* root/name */
static char *under(const char *name) {
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s", root, name), 0);
        return p;
}

/* a directory under the root, root's own with mode */
static char *dir(const char *name, mode_t mode) {
        char *d = under(name);

        ck_assert_int_eq(paths_mkdir_p(d, 0755), 0);
        ck_assert_int_eq(chmod(d, mode), 0);
        return d;
}

static char *file(const char *name, const char *text, mode_t mode) {
        char *p = under(name);
        FILE *f = fopen(p, "we");

        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(p, mode), 0);
        return p;
}

static char *link_to(const char *name, const char *target) {
        char *p = under(name);

        ck_assert_int_eq(symlink(target, p), 0);
        return p;
}

/* refused with r, the reason holding each of wants */
static void assert_refused(const char *path, TrustFlags flags, int r, const char *const *wants) {
        _cleanup_free_ char *why = NULL;

        ck_assert_int_eq(trust_check_root_file(path, flags, &why), r);
        ck_assert_ptr_nonnull(why);
        for (const char *const *w = wants; *w; w++)
                ck_assert_msg(strstr(why, *w), "'%s' does not say '%s'", why, *w);
}

START_TEST(test_credential) {
        _cleanup_free_ char *e = dir("etc", 0755), *c = dir("etc/codebolt-upgrade", 0755),
                            *d = dir("etc/codebolt-upgrade/credentials", 0700),
                            *f = file("etc/codebolt-upgrade/credentials/db-password", "s3cret", 0600),
                            *text = NULL, *why = NULL;
        int fd;

        ck_assert_int_eq(trust_read_credential("db-password", &text, &why), 0);
        ck_assert_str_eq(text, "s3cret");
        ck_assert_ptr_null(why);

        ck_assert_int_eq(trust_read_credential("missing", &text, NULL), -ENOENT);

        /* a secret others may read is refused, and the reason names the file */
        ck_assert_int_eq(chmod(f, 0640), 0);
        ck_assert_int_eq(trust_read_credential("db-password", &text, &why), -EPERM);
        ck_assert_ptr_nonnull(why);
        ck_assert_msg(strstr(why, "db-password"), "'%s' does not name the file", why);
        free(why);
        why = NULL;

        /* a NUL byte would cut the secret short */
        ck_assert_int_eq(chmod(f, 0600), 0);
        fd = open(f, O_WRONLY | O_APPEND | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "\0x", 2), 2);
        close(fd);
        ck_assert_int_eq(trust_read_credential("db-password", &text, &why), -EBADMSG);
        ck_assert_ptr_nonnull(why);
        ck_assert_msg(strstr(why, "contains a NUL byte"), "'%s'", why);
}
END_TEST

START_TEST(test_good) {
        _cleanup_free_ char *d = dir("good", 0755), *f = file("good/file", "hello\n", 0644), *text = NULL,
                            *why = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat a, b;
        size_t size;

        fd = trust_open_root_file(f, 0, &why);
        ck_assert_int_ge(fd, 0);
        ck_assert_ptr_null(why);
        /* the fd is the file */
        ck_assert_int_eq(fstat(fd, &a), 0);
        ck_assert_int_eq(stat(f, &b), 0);
        ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
        ck_assert_int_eq(fcntl(fd, F_GETFL) & O_PATH, O_PATH);
        ck_assert_int_eq(fcntl(fd, F_GETFD), FD_CLOEXEC);

        ck_assert_int_eq(trust_read_root_file(f, 0, 1024, &text, &size, NULL), 0);
        ck_assert_str_eq(text, "hello\n");
        ck_assert_uint_eq(size, 6);
        ck_assert_int_eq(trust_read_root_file(f, 0, 3, &text, &size, NULL), -EFBIG);

        /* not writable by anyone but root is enough; TRUST_PRIVATE wants no bit for the others */
        ck_assert_int_eq(chmod(f, 0444), 0);
        ck_assert_int_eq(trust_check_root_file(f, 0, NULL), 0);
        ck_assert_int_eq(chmod(f, 0600), 0);
        ck_assert_int_eq(trust_check_root_file(f, TRUST_PRIVATE, NULL), 0);
}
END_TEST

START_TEST(test_file_refused) {
        _cleanup_free_ char *d = dir("file", 0755), *f = file("file/x", "x", 0755),
                            *sub = dir("file/sub", 0755);

        ck_assert_int_eq(chown(f, NOBODY, 0), 0);
        assert_refused(
                f,
                0,
                -EPERM,
                (const char *const[]){
                        f, " is owned by uid 65534 with mode 0755", "chown root:root", "chmod go-w", NULL });
        ck_assert_int_eq(chown(f, 0, 0), 0);
        ck_assert_int_eq(chmod(f, 0775), 0);
        assert_refused(f, 0, -EPERM, (const char *const[]){ f, "uid 0 with mode 0775", NULL });
        ck_assert_int_eq(chmod(f, 0757), 0);
        assert_refused(f, 0, -EPERM, (const char *const[]){ "mode 0757", NULL });
        /* a secret: readable by group is too much */
        ck_assert_int_eq(chmod(f, 0640), 0);
        assert_refused(
                f, TRUST_PRIVATE, -EPERM, (const char *const[]){ "have mode 0600", "chmod 0600", NULL });
        /* a directory, a missing file */
        assert_refused(sub, 0, -EPERM, (const char *const[]){ "is not a regular file", NULL });
        ck_assert_int_eq(trust_check_root_file("/nonexistent/x", 0, NULL), -ENOENT);
        ck_assert_int_eq(trust_check_root_file("relative/x", 0, NULL), -EINVAL);
}
END_TEST

START_TEST(test_directory_refused) {
        _cleanup_free_ char *a = dir("dirs", 0755), *b = dir("dirs/b", 0755), *c = dir("dirs/b/c", 0755),
                            *f = file("dirs/b/c/x", "x", 0755), *want = NULL;

        /* any directory on the way, not only the file's own */
        ck_assert_int_eq(chmod(b, 0775), 0);
        ck_assert_int_ge(asprintf(&want, "directory %s is owned by uid 0 with mode 0775", b), 0);
        assert_refused(f, 0, -EPERM, (const char *const[]){ want, "chmod go-w", NULL });
        ck_assert_int_eq(chmod(b, 0755), 0);
        ck_assert_int_eq(chown(c, NOBODY, NOBODY), 0);
        free(want);
        ck_assert_int_ge(asprintf(&want, "directory %s is owned by uid 65534", c), 0);
        assert_refused(f, 0, -EPERM, (const char *const[]){ want, "chown root:root", NULL });
        ck_assert_int_eq(chown(c, 0, 0), 0);
        /* sticky is no excuse */
        ck_assert_int_eq(chmod(c, 01777), 0);
        assert_refused(f, 0, -EPERM, (const char *const[]){ c, "mode 1777", NULL });
        ck_assert_int_eq(chmod(c, 0755), 0);
        ck_assert_int_eq(trust_check_root_file(f, 0, NULL), 0);
}
END_TEST

START_TEST(test_symlinks) {
        _cleanup_free_ char *good = dir("links", 0755), *bad = dir("links-open", 0755),
                            *ww = dir("links-ww", 0777), *t = file("links/target", "t", 0755),
                            *other = file("links/other", "o", 0755),
                            *wt = file("links-ww/target", "w", 0755), *l1 = NULL, *l2 = NULL, *l3 = NULL,
                            *l4 = NULL, *l5 = NULL, *l6 = NULL, *loop = NULL;

        /* absolute and relative (through ..) links to a good file, a link to a link: fine */
        l1 = link_to("links/abs", t);
        l2 = link_to("links/rel", "../links/./target");
        l3 = link_to("links/chain", "rel");
        ck_assert_int_eq(trust_check_root_file(l1, 0, NULL), 0);
        ck_assert_int_eq(trust_check_root_file(l2, 0, NULL), 0);
        ck_assert_int_eq(trust_check_root_file(l3, 0, NULL), 0);

        /* the target is judged: nobody's, or in a world-writable directory */
        ck_assert_int_eq(chown(other, NOBODY, NOBODY), 0);
        l4 = link_to("links/to-other", other);
        assert_refused(l4, 0, -EPERM, (const char *const[]){ other, "uid 65534", NULL });
        l5 = link_to("links/to-ww", wt);
        assert_refused(l5, 0, -EPERM, (const char *const[]){ ww, "mode 0777", NULL });

        /* so is the directory holding the link, though the target is fine */
        l6 = link_to("links-open/to-good", t);
        ck_assert_int_eq(trust_check_root_file(l6, 0, NULL), 0);
        ck_assert_int_eq(chmod(bad, 0775), 0);
        assert_refused(l6, 0, -EPERM, (const char *const[]){ bad, "mode 0775", NULL });

        loop = link_to("links/loop", "loop");
        ck_assert_int_eq(trust_check_root_file(loop, 0, NULL), -ELOOP);
}
END_TEST

START_TEST(test_above_root) {
        _cleanup_free_ char *outside = strdup("/var/tmp/test-trust-outside.XXXXXX"), *f = NULL, *l = NULL,
                            *d = dir("above", 0755), *why = NULL;
        struct stat st;

        /* the harness's /var/tmp above the root is not judged (test_good passed under it); a target
         * outside the root is judged from / down, and /var/tmp is anyone's */
        ck_assert_int_eq(stat("/var/tmp", &st), 0);
        if ((st.st_mode & S_IWOTH) == 0)
                return;
        ck_assert_ptr_nonnull(mkdtemp(outside));
        ck_assert_int_eq(chmod(outside, 0755), 0);
        ck_assert_int_ge(asprintf(&f, "%s/x", outside), 0);
        ck_assert_int_eq(state_write_string_atomic(f, "x", 0755), 0);
        l = link_to("above/link", f);
        ck_assert_int_eq(trust_check_root_file(l, 0, &why), -EPERM);
        ck_assert_ptr_nonnull(strstr(why, "directory /var/tmp is owned by uid 0 with mode 1777"));
        ck_assert_int_eq(unlink(f), 0);
        ck_assert_int_eq(rmdir(outside), 0);
}
END_TEST

START_TEST(test_fd_is_what_was_judged) {
        _cleanup_free_ char *d = dir("swap", 0755), *f = file("swap/file", "judged\n", 0644),
                            *evil = file("swap/evil", "evil\n", 0644), *text = NULL, *proc = NULL;
        _cleanup_close_ int fd = -EBADF, rfd = -EBADF;

        /* a name swapped after the check changes nothing for the holder of the fd */
        fd = trust_open_root_file(f, 0, NULL);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(chown(evil, NOBODY, NOBODY), 0);
        ck_assert_int_eq(rename(evil, f), 0);
        ck_assert_int_ge(asprintf(&proc, "/proc/self/fd/%d", fd), 0);
        rfd = open(proc, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(rfd, 0);
        ck_assert_int_eq(state_read_fd(rfd, 0, 1024, &text, NULL), 0);
        ck_assert_str_eq(text, "judged\n");
        ck_assert_int_eq(trust_check_root_file(f, 0, NULL), -EPERM);
}
END_TEST

static Suite *trust_suite(void) {
        Suite *s = suite_create("trust");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_good);
        tcase_add_test(tc, test_file_refused);
        tcase_add_test(tc, test_directory_refused);
        tcase_add_test(tc, test_symlinks);
        tcase_add_test(tc, test_above_root);
        tcase_add_test(tc, test_fd_is_what_was_judged);
        tcase_add_test(tc, test_credential);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        if (geteuid() != 0) {
                fprintf(stderr, "test-trust needs root (chown to nobody, files that must be root's)\n");
                return EXIT_FAILURE;
        }
        return run_suite_in_root(trust_suite(), "test-trust");
}
