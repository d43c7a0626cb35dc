/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-spawn.c: spawn module: status, capture, exact env, no shell, timeout, cancel, run_as, exec_fd */
#define _GNU_SOURCE
#include <check.h>
#include <pwd.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "log.h"
#include "macro.h"
#include "spawn.h"
#include "test-util.h"
#include "time-util.h"

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })

static void setup(void) {
        setenv("CODEBOLT_UPGRADE_LOG", "stderr", 1);
        unsetenv("CODEBOLT_UPGRADE_LOG_LEVEL");
        log_setup("test-spawn", "stage");
        spawn_set_cancel_flag(NULL);
}

static char *run_capture(char *const argv[], const SpawnOptions *base, int *ret_status) {
        SpawnOptions o = base ? *base : (SpawnOptions){};
        char *out = NULL;
        int status = -1;

        o.ret_stdout = &out;
        ck_assert_int_eq(spawn_run(argv, &o, &status), 0);
        ck_assert_ptr_nonnull(out);
        if (ret_status)
                *ret_status = status;
        else
                ck_assert_int_eq(status, 0);
        return out;
}

START_TEST(test_env_push) {
        _cleanup_strv_free_ char **env = NULL;
        size_t n = 0;

        ck_assert_int_eq(spawn_env_push(&env, &n, "PATH=%s", "/usr/bin"), 0);
        ck_assert_int_eq(spawn_env_push(&env, &n, "N=%d", 7), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(env[0], "PATH=/usr/bin");
        ck_assert_str_eq(env[1], "N=7");
        ck_assert_ptr_null(env[2]);
}
END_TEST

START_TEST(test_exit_codes) {
        int status = -1;

        ck_assert_int_eq(spawn_run(ARGV("/bin/true"), NULL, &status), 0);
        ck_assert_int_eq(status, 0);
        ck_assert_int_eq(spawn_run(ARGV("/bin/false"), NULL, &status), 0);
        ck_assert_int_eq(status, 1);
        ck_assert_int_eq(spawn_run(ARGV("/bin/sh", "-c", "exit 42"), NULL, &status), 0);
        ck_assert_int_eq(status, 42);
        ck_assert_int_eq(spawn_run(ARGV("/bin/sh", "-c", "exit 255"), NULL, &status), 0);
        ck_assert_int_eq(status, 255);
        /* killed by a signal: 128+signal */
        ck_assert_int_eq(spawn_run(ARGV("/bin/sh", "-c", "kill -KILL $$"), NULL, &status), 0);
        ck_assert_int_eq(status, 128 + SIGKILL);

        /* ret_signal tells a signal from an exit with the same status */
        int sig = -1;
        SpawnOptions o = { .ret_signal = &sig };
        ck_assert_int_eq(spawn_run(ARGV("/bin/sh", "-c", "kill -TERM $$"), &o, &status), 0);
        ck_assert_int_eq(status, 128 + SIGTERM);
        ck_assert_int_eq(sig, SIGTERM);
        ck_assert_int_eq(spawn_run(ARGV("/bin/sh", "-c", "exit 143"), &o, &status), 0);
        ck_assert_int_eq(status, 143);
        ck_assert_int_eq(sig, 0);

        /* no status wanted: a failure is an error */
        ck_assert_int_eq(spawn_run(ARGV("/bin/true"), NULL, NULL), 0);
        ck_assert_int_eq(spawn_run(ARGV("/bin/false"), NULL, NULL), -EPROTO);
}
END_TEST

START_TEST(test_not_found) {
        SpawnOptions o = { .env = ARGV("PATH=/nonexistent") };
        int status = 4242;

        ck_assert_int_eq(spawn_run(ARGV("/nonexistent/program"), NULL, &status), -ENOENT);
        /* a bare name is looked up in the child's PATH, not ours */
        ck_assert_int_eq(spawn_run(ARGV("true"), &o, &status), -ENOENT);
        ck_assert_int_eq(spawn_run(ARGV("/etc/passwd"), NULL, &status), -EACCES);
        ck_assert_int_eq(status, 4242); /* untouched on failure */
        ck_assert_int_eq(spawn_run(ARGV(NULL), NULL, &status), -EINVAL);
}
END_TEST

START_TEST(test_capture) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        int status;

        a = run_capture(ARGV("/bin/echo", "hello", "world"), NULL, NULL);
        ck_assert_str_eq(a, "hello world\n");

        /* nothing printed: an empty string, not NULL */
        b = run_capture(ARGV("/bin/true"), NULL, NULL);
        ck_assert_str_eq(b, "");

        /* the status comes with the output */
        c = run_capture(ARGV("/bin/sh", "-c", "echo partial; exit 3"), NULL, &status);
        ck_assert_str_eq(c, "partial\n");
        ck_assert_int_eq(status, 3);
}
END_TEST

START_TEST(test_capture_large) {
        _cleanup_free_ char *out = NULL;

        /* far more than a pipe holds, nothing lost */
        out = run_capture(ARGV("/usr/bin/seq", "1", "400000"), NULL, NULL);
        ck_assert_uint_eq(strlen(out), 2688895);
        ck_assert(startswith(out, "1\n2\n3\n"));
        ck_assert_str_eq(out + strlen(out) - 7, "400000\n");
}
END_TEST

/* 16 MiB: the bound is written out here, so a change to it shows in the test */
#define CAP ((size_t)16 * 1024 * 1024)

/* exactly the cap is fine */
START_TEST(test_capture_at_cap) {
        _cleanup_free_ char *out = NULL, *cmd = NULL;

        ck_assert_int_ge(asprintf(&cmd, "head -c %zu /dev/zero | tr '\\0' x", CAP), 0);
        out = run_capture(ARGV("/bin/sh", "-c", cmd), NULL, NULL);
        ck_assert_uint_eq(strlen(out), CAP);
}
END_TEST

/* a child that prints without end: refused past the cap, and ended at once rather than waited for */
START_TEST(test_capture_over_cap) {
        _cleanup_free_ char *out = NULL, *cmd = NULL;
        SpawnOptions o = { .ret_stdout = &out };
        usec_t start = now_monotonic();
        int status = -1;

        ck_assert_int_ge(asprintf(&cmd, "head -c %zu /dev/zero | tr '\\0' x; exec sleep 60", CAP + 1), 0);
        ck_assert_int_eq(spawn_run(ARGV("/bin/sh", "-c", cmd), &o, &status), -EFBIG);
        ck_assert_ptr_null(out);
        ck_assert_int_eq(status, -1);
        ck_assert_uint_lt(now_monotonic() - start, 30 * USEC_PER_SEC);

        /* the same for one that never stops */
        start = now_monotonic();
        ck_assert_int_eq(spawn_run(ARGV("/usr/bin/yes", "codebolt"), &o, &status), -EFBIG);
        ck_assert_uint_lt(now_monotonic() - start, 30 * USEC_PER_SEC);
}
END_TEST

/* a forwarded stream is never held, and puts at most the cap into the log, then says it stopped */
START_TEST(test_forward_over_cap) {
        _cleanup_free_ char *log = NULL, *cmd = NULL;
        SpawnOptions o = { .log_identifier = "chatty" };
        int status = -1;

        ck_assert_int_ge(
                asprintf(
                        &cmd,
                        "head -c %zu /dev/zero | tr '\\0' x | fold -w 1000 >&2; echo done >&2",
                        CAP + CAP / 2),
                0);
        test_capture_begin();
        ck_assert_int_eq(spawn_run(ARGV("/bin/sh", "-c", cmd), &o, &status), 0);
        log = test_capture_end();
        ck_assert_int_eq(status, 0);
        ck_assert_ptr_nonnull(strstr(log, "chatty: (more than 16 MiB of output: the rest is not logged)\n"));
        ck_assert_ptr_null(strstr(log, "chatty: done"));
        ck_assert_uint_lt(strlen(log), CAP + CAP / 16);
        ck_assert_uint_gt(strlen(log), CAP - CAP / 16);
}
END_TEST

START_TEST(test_env_exact) {
        SpawnOptions o = { .env = ARGV("FOO=bar", "X=1 2 $HOME", "EMPTY=") };
        _cleanup_free_ char *exact = NULL, *def = NULL, *none = NULL;

        setenv("LEAK_ME", "1", 1);

        exact = run_capture(ARGV("/usr/bin/env"), &o, NULL);
        ck_assert_str_eq(exact, "FOO=bar\nX=1 2 $HOME\nEMPTY=\n");

        def = run_capture(ARGV("/usr/bin/env"), NULL, NULL);
        ck_assert_str_eq(def, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLANG=C.UTF-8\n");

        o.env = ARGV(NULL);
        none = run_capture(ARGV("/usr/bin/env"), &o, NULL);
        ck_assert_str_eq(none, "");
}
END_TEST

START_TEST(test_path_lookup) {
        _cleanup_free_ char *out = NULL;

        out = run_capture(ARGV("echo", "found"), NULL, NULL);
        ck_assert_str_eq(out, "found\n");
}
END_TEST

START_TEST(test_no_shell) {
        _cleanup_free_ char *out = NULL;

        out = run_capture(
                ARGV("/bin/echo",
                     "a;b",
                     "$(id -u)",
                     "`id`",
                     "*",
                     "x && rm -rf /nonexistent",
                     "'q'",
                     "$HOME"),
                NULL,
                NULL);
        ck_assert_str_eq(out, "a;b $(id -u) `id` * x && rm -rf /nonexistent 'q' $HOME\n");
}
END_TEST

START_TEST(test_stdin) {
        _cleanup_free_ char *small = NULL, *big = NULL, *out = NULL, *head = NULL;
        SpawnOptions o = { .stdin_data = "s3cret\n" };
        const size_t n = 1024 * 1024 + 17;

        small = run_capture(ARGV("/bin/cat"), &o, NULL);
        ck_assert_str_eq(small, "s3cret\n");

        /* more than a pipe holds, while the child writes as much back */
        big = malloc(n + 1);
        ck_assert_ptr_nonnull(big);
        for (size_t i = 0; i < n; i++)
                big[i] = (char)('a' + i % 26);
        big[n] = 0;
        o.stdin_data = big;
        out = run_capture(ARGV("/bin/cat"), &o, NULL);
        ck_assert_uint_eq(strlen(out), n);
        ck_assert(memcmp(out, big, n) == 0);

        /* a child that stops reading early: no SIGPIPE for us */
        head = run_capture(ARGV("/usr/bin/head", "-c", "5"), &o, NULL);
        ck_assert_str_eq(head, "abcde");
}
END_TEST

START_TEST(test_stdin_default_devnull) {
        _cleanup_free_ char *out = NULL;

        out = run_capture(ARGV("/bin/cat"), NULL, NULL);
        ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_cwd) {
        SpawnOptions o = { .cwd = "/tmp" };
        _cleanup_free_ char *a = NULL, *b = NULL;

        a = run_capture(ARGV("/bin/pwd"), &o, NULL);
        ck_assert_str_eq(a, "/tmp\n");
        b = run_capture(ARGV("/bin/pwd"), NULL, NULL);
        ck_assert_str_eq(b, "/\n");

        o.cwd = "/nonexistent";
        ck_assert_int_eq(spawn_run(ARGV("/bin/pwd"), &o, NULL), -ENOENT);
}
END_TEST

START_TEST(test_no_fd_leak) {
        _cleanup_free_ char *out = NULL;
        int fd = open("/dev/null", O_RDONLY); /* deliberately not close-on-exec */

        ck_assert_int_ge(fd, 3);
        /* ls's own directory fd is the only one beyond 0-2 */
        out = run_capture(ARGV("/bin/ls", "/proc/self/fd"), NULL, NULL);
        ck_assert_str_eq(out, "0\n1\n2\n3\n");
        close(fd);
}
END_TEST

START_TEST(test_forwarding) {
        SpawnOptions o = { .log_identifier = "npm", .phase = "stage" };
        _cleanup_free_ char *out = NULL;
        int status;

        test_capture_begin();
        ck_assert_int_eq(
                spawn_run(
                        ARGV("/bin/sh", "-c", "echo out1; echo err1 >&2; echo; printf 'no newline'"),
                        &o,
                        &status),
                0);
        ck_assert_int_eq(spawn_run(ARGV("/bin/ls", "/nonexistent-dir"), NULL, &status), 0);
        out = test_capture_end();
        ck_assert_int_eq(status, 2);

        ck_assert_ptr_nonnull(strstr(out, "npm: out1\n"));
        ck_assert_ptr_nonnull(strstr(out, "npm: err1\n"));
        ck_assert_ptr_nonnull(strstr(out, "npm: \n"));
        ck_assert_ptr_nonnull(strstr(out, "npm: no newline\n"));
        /* default identifier: argv[0]'s basename */
        ck_assert_ptr_nonnull(strstr(out, "ls: /bin/ls: cannot access '/nonexistent-dir'"));
}
END_TEST

START_TEST(test_grandchild_keeps_pipe) {
        usec_t start = now_monotonic();
        _cleanup_free_ char *out = NULL;

        /* a background process holding stdout does not keep us waiting */
        out = run_capture(ARGV("/bin/sh", "-c", "sleep 3 & echo done"), NULL, NULL);
        ck_assert_str_eq(out, "done\n");
        ck_assert_uint_lt(now_monotonic() - start, 2 * USEC_PER_SEC);
}
END_TEST

START_TEST(test_timeout) {
        SpawnOptions o = { .timeout = 1 * USEC_PER_SEC };
        usec_t start = now_monotonic(), elapsed;
        int status = 4242;

        ck_assert_int_eq(spawn_run(ARGV("/bin/sleep", "30"), &o, &status), -ETIME);
        elapsed = now_monotonic() - start;
        ck_assert_uint_ge(elapsed, 1 * USEC_PER_SEC);
        ck_assert_uint_lt(elapsed, 6 * USEC_PER_SEC);
        ck_assert_int_eq(status, 4242);

        /* a quick child is not affected */
        ck_assert_int_eq(spawn_run(ARGV("/bin/true"), &o, &status), 0);
        ck_assert_int_eq(status, 0);
}
END_TEST

START_TEST(test_timeout_sigkill) {
        SpawnOptions o = { .timeout = USEC_PER_SEC / 2 };
        usec_t start = now_monotonic(), elapsed;

        /* ignores SIGTERM (and so does its sleep): SIGKILL 5 s later */
        ck_assert_int_eq(spawn_run(ARGV("/bin/sh", "-c", "trap '' TERM; sleep 30"), &o, NULL), -ETIME);
        elapsed = now_monotonic() - start;
        ck_assert_uint_ge(elapsed, 5 * USEC_PER_SEC);
        ck_assert_uint_lt(elapsed, 8 * USEC_PER_SEC);
}
END_TEST

static volatile sig_atomic_t cancelled = 0;

static void on_alarm(int sig) {
        cancelled = sig;
}

START_TEST(test_cancel) {
        struct sigaction sa = { .sa_handler = on_alarm };
        struct itimerval it = { .it_value = { .tv_usec = 300 * 1000 } };
        usec_t start = now_monotonic(), elapsed;

        spawn_set_cancel_flag(&cancelled);
        ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
        ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);

        ck_assert_int_eq(spawn_run(ARGV("/bin/sleep", "30"), NULL, NULL), -ECANCELED);
        elapsed = now_monotonic() - start;
        ck_assert_uint_lt(elapsed, 3 * USEC_PER_SEC);

        /* already cancelled: nothing is started */
        ck_assert_int_eq(spawn_run(ARGV("/bin/true"), NULL, NULL), -ECANCELED);
        spawn_set_cancel_flag(NULL);
}
END_TEST

START_TEST(test_cancel_with_sa_restart) {
        /* SA_RESTART does not matter: the flag is looked at regularly */
        struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
        struct itimerval it = { .it_value = { .tv_usec = 200 * 1000 } };
        SpawnOptions o = { .stdin_data = "" };

        cancelled = 0;
        spawn_set_cancel_flag(&cancelled);
        ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
        ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
        ck_assert_int_eq(spawn_run(ARGV("/bin/sleep", "30"), &o, NULL), -ECANCELED);
        spawn_set_cancel_flag(NULL);
}
END_TEST

/* Never skipped: the unit tests run as root (HACKING.md, "Tests"), and a non-root run must fail here rather
 * than count an unchecked privilege drop as passed. */
START_TEST(test_run_as_nobody) {
        SpawnOptions o = { .run_as = "nobody" };
        _cleanup_free_ char *uid = NULL, *gids = NULL, *env = NULL, *ls = NULL;
        int fd;

        ck_assert_msg(
                geteuid() == 0, "run_as needs root: run the unit tests as root (not skipped on purpose)");

        uid = run_capture(ARGV("/usr/bin/id", "-u"), &o, NULL);
        ck_assert_str_eq(uid, "65534\n");
        /* supplementary groups are nobody's, not root's */
        gids = run_capture(ARGV("/usr/bin/id", "-G"), &o, NULL);
        ck_assert_str_eq(gids, "65534\n");
        /* the default environment carries the user's HOME */
        env = run_capture(ARGV("/usr/bin/env"), &o, NULL);
        ck_assert_str_eq(
                env,
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLANG=C.UTF-8\nHOME=/nonexistent\nUSER=nobody\n"
                "LOGNAME=nobody\n");

        /* and no descriptor leaks on the fork path either */
        fd = open("/dev/null", O_RDONLY);
        ck_assert_int_ge(fd, 3);
        ls = run_capture(ARGV("/bin/ls", "/proc/self/fd"), &o, NULL);
        ck_assert_str_eq(ls, "0\n1\n2\n3\n");
        close(fd);
}
END_TEST

/* fd3: the child reads the caller's descriptor as its fd 3 and gets nothing else beyond 0-2, on both
 * start paths (posix_spawn as we are, fork and exec with run_as) */
START_TEST(test_fd3) {
        static const SpawnOptions as_root = {}, as_nobody = { .run_as = "nobody" };
        const SpawnOptions *paths[] = { &as_root, &as_nobody };

        ck_assert_msg(
                geteuid() == 0, "run_as needs root: run the unit tests as root (not skipped on purpose)");

        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                _cleanup_free_ char *out = NULL, *ls = NULL;
                int fd = memfd_create("test-fd3", MFD_CLOEXEC), leak = open("/dev/null", O_RDONLY);
                SpawnOptions o = *paths[i];

                ck_assert_int_ge(fd, 3);
                ck_assert_int_ge(leak, 3);
                ck_assert_int_eq(write(fd, "secret\n", 7), 7);
                ck_assert_int_eq(fchmod(fd, 0644), 0);
                o.fd3 = fd;
                out = run_capture(ARGV("/bin/cat", "/proc/self/fd/3"), &o, NULL);
                ck_assert_str_eq(out, "secret\n");
                /* ls's own directory fd is 4 */
                ls = run_capture(ARGV("/bin/ls", "/proc/self/fd"), &o, NULL);
                ck_assert_str_eq(ls, "0\n1\n2\n3\n4\n");
                close(fd);
                close(leak);
        }

        /* 0-2 are the child's own */
        SpawnOptions bad = { .fd3 = STDERR_FILENO };
        ck_assert_int_eq(spawn_run(ARGV("/bin/true"), &bad, NULL), -EINVAL);
}
END_TEST

START_TEST(test_run_as_numeric_and_errors) {
        SpawnOptions o = { .uid = 65534, .gid = 65534 };
        _cleanup_free_ char *ids = NULL, *env = NULL;
        char dir[] = "/tmp/test-spawn.XXXXXX";
        int status = 4242;

        ck_assert_msg(geteuid() == 0, "dropping privileges needs root (not skipped on purpose)");

        /* numeric: uid, gid and the gid as the only group; no user database, so no HOME */
        ids = run_capture(ARGV("/bin/sh", "-c", "id -u; id -g; id -G"), &o, NULL);
        ck_assert_str_eq(ids, "65534\n65534\n65534\n");
        env = run_capture(ARGV("/usr/bin/env"), &o, NULL);
        ck_assert_str_eq(env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLANG=C.UTF-8\n");

        o = (SpawnOptions){ .run_as = "no-such-user-cbu" };
        ck_assert_int_eq(spawn_run(ARGV("/bin/true"), &o, &status), -ESRCH);

        /* the working directory is entered as the user: root's 0700 directory is refused */
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_eq(chmod(dir, 0700), 0);
        o = (SpawnOptions){ .run_as = "nobody", .cwd = dir };
        ck_assert_int_eq(spawn_run(ARGV("/bin/true"), &o, &status), -EACCES);
        ck_assert_int_eq(status, 4242);
        rmdir(dir);
}
END_TEST

static void write_script(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(path, 0755), 0);
}

START_TEST(test_exec_fd) {
        char dir[] = "/tmp/test-spawn-execfd.XXXXXX";
        _cleanup_free_ char *script = NULL, *other = NULL, *a = NULL, *b = NULL, *want = NULL;
        _cleanup_close_ int fd = -EBADF, echo = -EBADF;
        SpawnOptions o = {};
        int status;

        /* what runs is the file opened, not what its name means by now; a #! script included */
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_ge(asprintf(&script, "%s/hook", dir), 0);
        ck_assert_int_ge(asprintf(&other, "%s/other", dir), 0);
        write_script(script, "#!/bin/sh\necho \"opened as $0\"\n");
        fd = open(script, O_PATH | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        write_script(other, "#!/bin/sh\necho swapped\n");
        ck_assert_int_eq(rename(other, script), 0);

        o.exec_fd = fd;
        a = run_capture(ARGV(script), &o, NULL);
        ck_assert_int_ge(asprintf(&want, "opened as /dev/fd/%d\n", fd), 0);
        ck_assert_str_eq(a, want);

        echo = open("/bin/echo", O_PATH | O_CLOEXEC);
        ck_assert_int_ge(echo, 0);
        o.exec_fd = echo;
        b = run_capture(ARGV("echo", "hi"), &o, NULL);
        ck_assert_str_eq(b, "hi\n");

        /* 0-2 are the child's stdio */
        o.exec_fd = 2;
        ck_assert_int_eq(spawn_run(ARGV("echo"), &o, &status), -EINVAL);

        unlink(script);
        rmdir(dir);
}
END_TEST

/* spawn_fork_as(): the child runs on in this program as the user, with the user's groups alone, the
 * user's HOME, USER and LOGNAME, in the home (else /), and no way back to root */
START_TEST(test_fork_as_nobody) {
        pid_t pid = 0;
        int status = -1, r;

        ck_assert_msg(
                geteuid() == 0, "run_as needs root: run the unit tests as root (not skipped on purpose)");

        r = spawn_fork_as("nobody", &pid);
        if (r == 0) {
                gid_t groups[4];
                int n = getgroups(4, groups);

                if (getuid() != 65534 || geteuid() != 65534 || getgid() != 65534 || getegid() != 65534)
                        _exit(10);
                if (n != 1 || groups[0] != 65534)
                        _exit(11);
                if (!streq_ptr(getenv("HOME"), "/nonexistent") || !streq_ptr(getenv("USER"), "nobody") ||
                    !streq_ptr(getenv("LOGNAME"), "nobody"))
                        _exit(12);
                if (setuid(0) >= 0)
                        _exit(13);
                _exit(0);
        }
        ck_assert_int_eq(r, 1);
        ck_assert_int_gt(pid, 0);
        ck_assert_int_eq(spawn_reap(pid, &status), 0);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        /* reaped: nothing is left to wait for */
        ck_assert_int_eq(spawn_reap(pid, NULL), -ECHILD);
}
END_TEST

START_TEST(test_fork_as_self_and_unknown) {
        pid_t pid = 0;
        int status = -1, r;

        ck_assert_int_eq(spawn_fork_as("no-such-user-cbu", &pid), -ESRCH);
        ck_assert_int_eq(pid, 0);

        /* NULL: the child stays who we are */
        r = spawn_fork_as(NULL, &pid);
        if (r == 0)
                _exit(getuid() == 0 && geteuid() == 0 ? 7 : 8);
        ck_assert_int_eq(r, 1);
        ck_assert_int_eq(spawn_reap(pid, &status), 0);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 7);
}
END_TEST

START_TEST(test_lookup_user) {
        struct passwd *nobody = getpwnam("nobody");
        uid_t uid = 4242;
        gid_t gid = 4242;

        ck_assert_int_eq(spawn_lookup_user("root", &uid, &gid), 0);
        ck_assert_uint_eq(uid, 0);
        ck_assert_uint_eq(gid, 0);
        ck_assert_ptr_nonnull(nobody);
        ck_assert_int_eq(spawn_lookup_user("nobody", &uid, &gid), 0);
        ck_assert_uint_eq(uid, nobody->pw_uid);
        ck_assert_uint_eq(gid, nobody->pw_gid);
        ck_assert_int_eq(spawn_lookup_user("no-such-user-cbu", &uid, &gid), -ESRCH);
}
END_TEST

START_TEST(test_kill_and_reap) {
        pid_t pid = 0, was;
        int r;

        r = spawn_fork_as(NULL, &pid);
        if (r == 0) {
                for (;;)
                        pause();
        }
        ck_assert_int_eq(r, 1);
        was = pid;
        errno = EAGAIN;
        spawn_kill_and_reapp(&pid);
        ck_assert_int_eq(pid, 0);
        ck_assert_int_eq(errno, EAGAIN);
        /* no zombie left behind */
        ck_assert_int_eq(spawn_reap(was, NULL), -ECHILD);
        /* and nothing to do a second time */
        spawn_kill_and_reapp(&pid);
        ck_assert_int_eq(pid, 0);
}
END_TEST

static Suite *spawn_suite(void) {
        Suite *s = suite_create("spawn");
        TCase *tc = tcase_create("core");

        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_test(tc, test_env_push);
        tcase_add_test(tc, test_lookup_user);
        tcase_add_test(tc, test_exit_codes);
        tcase_add_test(tc, test_not_found);
        tcase_add_test(tc, test_capture);
        tcase_add_test(tc, test_capture_large);
        tcase_add_test(tc, test_capture_at_cap);
        tcase_add_test(tc, test_capture_over_cap);
        tcase_add_test(tc, test_forward_over_cap);
        tcase_add_test(tc, test_env_exact);
        tcase_add_test(tc, test_path_lookup);
        tcase_add_test(tc, test_no_shell);
        tcase_add_test(tc, test_stdin);
        tcase_add_test(tc, test_stdin_default_devnull);
        tcase_add_test(tc, test_cwd);
        tcase_add_test(tc, test_no_fd_leak);
        tcase_add_test(tc, test_forwarding);
        tcase_add_test(tc, test_grandchild_keeps_pipe);
        tcase_add_test(tc, test_timeout);
        tcase_add_test(tc, test_timeout_sigkill);
        tcase_add_test(tc, test_cancel);
        tcase_add_test(tc, test_cancel_with_sa_restart);
        tcase_add_test(tc, test_run_as_nobody);
        tcase_add_test(tc, test_run_as_numeric_and_errors);
        tcase_add_test(tc, test_fd3);
        tcase_add_test(tc, test_exec_fd);
        tcase_add_test(tc, test_fork_as_nobody);
        tcase_add_test(tc, test_fork_as_self_and_unknown);
        tcase_add_test(tc, test_kill_and_reap);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(spawn_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
