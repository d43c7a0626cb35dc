/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-hooks.c: hooks module: listing (union, masking, order, skips), the environment, failures, timeout,
 * the refusal of a hook that is not root's alone */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include "test-root.h"
#include "hooks.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "spawn.h"
#include "state.h"
#include "test-util.h"

/* each test has a stage of its own, so its directories are its own */
static char *stage_dir(bool site, const char *stage) {
        char *d = site ? paths_hook_dir(stage) : paths_vendor_hook_dir(stage);

        ck_assert_ptr_nonnull(d);
        ck_assert_int_eq(paths_mkdir_p(d, 0755), 0);
        return d;
}

static void put(bool site, const char *stage, const char *name, const char *text, mode_t mode) {
        _cleanup_free_ char *dir = stage_dir(site, stage), *path = NULL;
        FILE *f;

        ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(path, mode), 0);
}

static void put_link(bool site, const char *stage, const char *name, const char *target) {
        _cleanup_free_ char *dir = stage_dir(site, stage), *path = NULL;

        ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
        ck_assert_int_eq(symlink(target, path), 0);
}

/* a scratch file of this test under the root */
static char *scratch(const char *name) {
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s", root, name), 0);
        return p;
}

static char *read_file(const char *path) {
        char *s = NULL;

        ck_assert_int_eq(state_read_string(path, &s), 0);
        return s;
}

static const Hook *find(const HookList *l, const char *name) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->hooks[i].name, name))
                        return &l->hooks[i];
        return NULL;
}

static void setup(void) {
        setenv("CODEBOLT_UPGRADE_LOG", "stderr", 1);
        unsetenv("CODEBOLT_UPGRADE_LOG_LEVEL");
        log_setup("test-hooks", "preflight");
        spawn_set_cancel_flag(NULL);
}

START_TEST(test_list_empty) {
        HookList l = {};

        /* neither directory exists */
        ck_assert_int_eq(hooks_list("t-none", &l), 0);
        ck_assert_uint_eq(l.n, 0);
        hook_list_done(&l);

        /* both exist, empty */
        free(stage_dir(true, "t-empty"));
        free(stage_dir(false, "t-empty"));
        ck_assert_int_eq(hooks_list("t-empty", &l), 0);
        ck_assert_uint_eq(l.n, 0);
        hook_list_done(&l);
}
END_TEST

START_TEST(test_list_union_order_masking) {
        _cleanup_free_ char *vendor = paths_vendor_hook_dir("t-list"), *site = paths_hook_dir("t-list");
        _cleanup_free_ char *p = NULL;
        static const char *const order[] = { "10-both", "2-vendor", "50-masked", "A-site",     "_under",
                                             "a-site",  "noexec",   "subdir",    "zz-dangling" };
        HookList l = {};
        const Hook *h;

        put(false, "t-list", "10-both", "#!/bin/sh\n", 0755);
        put(true, "t-list", "10-both", "#!/bin/sh\n", 0755);
        put(false, "t-list", "2-vendor", "#!/bin/sh\n", 0755);
        put(false, "t-list", "50-masked", "#!/bin/sh\n", 0755);
        put_link(true, "t-list", "50-masked", "/dev/null");
        put(true, "t-list", "A-site", "#!/bin/sh\n", 0755);
        put(true, "t-list", "a-site", "#!/bin/sh\n", 0755);
        put(true, "t-list", "_under", "#!/bin/sh\n", 0700);
        put(false, "t-list", "noexec", "#!/bin/sh\n", 0644);
        put_link(true, "t-list", "zz-dangling", "/nonexistent/hook");
        ck_assert_int_ge(asprintf(&p, "%s/subdir", site), 0);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        /* never listed: dotfiles, editor and package-manager leftovers */
        put(true, "t-list", ".hidden", "#!/bin/sh\n", 0755);
        put(true, "t-list", "a-site~", "#!/bin/sh\n", 0755);
        put(false, "t-list", "2-vendor.dpkg-old", "#!/bin/sh\n", 0755);
        put(true, "t-list", "10-both.dpkg-dist", "#!/bin/sh\n", 0755);
        put(true, "t-list", "10-both.rpmnew", "#!/bin/sh\n", 0755);
        put(true, "t-list", ".a-site.swp", "#!/bin/sh\n", 0755);

        ck_assert_int_eq(hooks_list("t-list", &l), 0);
        ck_assert_uint_eq(l.n, ELEMENTSOF(order));
        for (size_t i = 0; i < l.n; i++)
                ck_assert_str_eq(l.hooks[i].name, order[i]);

        /* /etc masks /usr/lib by name */
        h = find(&l, "10-both");
        ck_assert(h->path && startswith(h->path, site));
        ck_assert_int_eq(h->kind, HOOK_EXECUTABLE);
        h = find(&l, "2-vendor");
        ck_assert(h->path && startswith(h->path, vendor));
        ck_assert_int_eq(h->kind, HOOK_EXECUTABLE);
        /* a symlink to /dev/null masks without replacing */
        h = find(&l, "50-masked");
        ck_assert(startswith(h->path, site));
        ck_assert_int_eq(h->kind, HOOK_MASKED);
        ck_assert_int_eq(find(&l, "_under")->kind, HOOK_EXECUTABLE);
        ck_assert_int_eq(find(&l, "noexec")->kind, HOOK_NOT_EXECUTABLE);
        ck_assert_int_eq(find(&l, "subdir")->kind, HOOK_NOT_REGULAR);
        ck_assert_int_eq(find(&l, "zz-dangling")->kind, HOOK_NOT_REGULAR);
        hook_list_done(&l);
        ck_assert_ptr_null(l.hooks);
}
END_TEST

START_TEST(test_list_dev_null_masks_alone) {
        HookList l = {};

        /* a mask with nothing to mask is listed as masked, never run */
        put_link(true, "t-mask", "10-nothing", "/dev/null");
        /* only /dev/null masks: a symlink to an executable is one */
        put_link(true, "t-mask", "20-nullish", "/dev/nullx");
        put_link(true, "t-mask", "30-link", "/bin/true");
        ck_assert_int_eq(hooks_list("t-mask", &l), 0);
        ck_assert_uint_eq(l.n, 3);
        ck_assert_int_eq(l.hooks[0].kind, HOOK_MASKED);
        ck_assert_int_eq(l.hooks[1].kind, HOOK_NOT_REGULAR);
        ck_assert_int_eq(l.hooks[2].kind, HOOK_EXECUTABLE);
        hook_list_done(&l);
}
END_TEST

START_TEST(test_list_unreadable_dir) {
        _cleanup_free_ char *site = paths_hook_dir("t-notdir");
        HookList l = {};
        FILE *f;

        /* a file where the directory should be: an error, not an empty list */
        free(stage_dir(true, "t-placeholder"));
        ck_assert_ptr_nonnull(site);
        f = fopen(site, "we");
        ck_assert_ptr_nonnull(f);
        fclose(f);
        ck_assert_int_eq(hooks_list("t-notdir", &l), -ENOTDIR);
}
END_TEST

static HookContext context(const char *stage) {
        return (HookContext){
                .stage = stage,
                .phase = "preflight",
                .deployment = "default",
                .from = "1.4.0",
                .to = "1.5.0",
                .backup = NULL,
                .timeout = 60 * USEC_PER_SEC,
        };
}

START_TEST(test_run_env) {
        _cleanup_free_ char *out = scratch("env.out"), *script = NULL, *got = NULL, *got2 = NULL;
        HookContext ctx = context("t-env");
        HookResult res = { .status = HOOK_EXITED, .code = 99 };
        HookList l = {};

        /* the whole environment, one a line, then what stdin and the working directory are */
        ck_assert_int_ge(
                asprintf(
                        &script,
                        "#!/bin/sh\n"
                        "env | LC_ALL=C sort >%s\n"
                        "echo \"stdin=$(readlink /proc/self/fd/0) cwd=$(pwd)\" >>%s\n",
                        out,
                        out),
                0);
        put(true, "t-env", "10-env", script, 0755);
        ck_assert_int_eq(hooks_list("t-env", &l), 0);
        ck_assert_uint_eq(l.n, 1);

        ck_assert_int_eq(hooks_run_one(&l.hooks[0], &ctx, &res), 0);
        ck_assert_int_eq(res.status, HOOK_PASSED);
        got = read_file(out);
        ck_assert_str_eq(
                got,
                "CODEBOLT_UPGRADE_BACKUP=\n"
                "CODEBOLT_UPGRADE_DEPLOYMENT=default\n"
                "CODEBOLT_UPGRADE_FROM=1.4.0\n"
                "CODEBOLT_UPGRADE_PHASE=preflight\n"
                "CODEBOLT_UPGRADE_STAGE=t-env\n"
                "CODEBOLT_UPGRADE_TO=1.5.0\n"
                "LANG=C.UTF-8\n"
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
                "PWD=/\n"
                "stdin=/dev/null cwd=/");

        /* the rollback stage's result, the backup once known */
        ctx.phase = "rollback";
        ctx.backup = "/backups/codebolt/20260101T000000Z-1.5.0";
        ctx.result = "rolled-back";
        ck_assert_int_eq(hooks_run_one(&l.hooks[0], &ctx, &res), 0);
        got2 = read_file(out);
        ck_assert(startswith(got2, "CODEBOLT_UPGRADE_BACKUP=/backups/codebolt/20260101T000000Z-1.5.0\n"));
        ck_assert_ptr_nonnull(strstr(got2, "\nCODEBOLT_UPGRADE_PHASE=rollback\n"));
        ck_assert_ptr_nonnull(strstr(got2, "\nCODEBOLT_UPGRADE_RESULT=rolled-back\n"));
        hook_list_done(&l);
}
END_TEST

START_TEST(test_run_failures) {
        _cleanup_free_ char *out = scratch("fail.out"), *log = NULL;
        char *s;
        HookContext ctx = context("t-fail");
        HookResult res = {};
        HookList l = {};

        put(true,
            "t-fail",
            "10-exit",
            "#!/bin/sh\necho 'dpkg is busy'\necho 'on stderr' >&2\nexit 3\n",
            0755);
        put(true, "t-fail", "20-signal", "#!/bin/sh\nkill -USR1 $$\n", 0755);
        put(true, "t-fail", "30-exit-143", "#!/bin/sh\nexit 143\n", 0755);
        put(true, "t-fail", "40-no-shebang", "echo hello\n", 0755);
        ck_assert_int_eq(hooks_list("t-fail", &l), 0);
        ck_assert_uint_eq(l.n, 4);

        /* the output is logged under the hook's own identifier */
        test_capture_begin();
        ck_assert_int_eq(hooks_run_one(&l.hooks[0], &ctx, &res), 1);
        log = test_capture_end();
        ck_assert_int_eq(res.status, HOOK_EXITED);
        ck_assert_int_eq(res.code, 3);
        ck_assert_ptr_nonnull(strstr(log, "t-fail.d/10-exit: dpkg is busy\n"));
        ck_assert_ptr_nonnull(strstr(log, "t-fail.d/10-exit: on stderr\n"));
        s = hook_result_to_string(&res, ctx.timeout);
        ck_assert_str_eq(s, "exited with status 3");
        free(s);

        ck_assert_int_eq(hooks_run_one(&l.hooks[1], &ctx, &res), 1);
        ck_assert_int_eq(res.status, HOOK_KILLED);
        ck_assert_int_eq(res.code, SIGUSR1);
        s = hook_result_to_string(&res, ctx.timeout);
        ck_assert_str_eq(s, "was killed by signal SIGUSR1");
        free(s);

        /* an exit status of 128+n is an exit, not a signal */
        ck_assert_int_eq(hooks_run_one(&l.hooks[2], &ctx, &res), 1);
        ck_assert_int_eq(res.status, HOOK_EXITED);
        ck_assert_int_eq(res.code, 143);

        ck_assert_int_eq(hooks_run_one(&l.hooks[3], &ctx, &res), 1);
        ck_assert_int_eq(res.status, HOOK_NOT_STARTED);
        ck_assert_int_eq(res.code, -ENOEXEC);
        s = hook_result_to_string(&res, ctx.timeout);
        ck_assert_ptr_nonnull(strstr(s, "could not be executed"));
        ck_assert_ptr_nonnull(strstr(s, "#!"));
        free(s);
        hook_list_done(&l);
}
END_TEST

START_TEST(test_run_timeout) {
        _cleanup_free_ char *out = scratch("timeout.out"), *s = NULL, *after = NULL;
        HookContext ctx = context("t-timeout");
        HookResult res = {};
        HookList l = {};

        /* the hook and what it started are killed: nothing writes the file afterwards */
        ck_assert_int_ge(asprintf(&s, "#!/bin/sh\nsleep 60\necho late >%s\n", out), 0);
        put(true, "t-timeout", "10-slow", s, 0755);
        ctx.timeout = USEC_PER_SEC / 5;
        ck_assert_int_eq(hooks_list("t-timeout", &l), 0);
        ck_assert_int_eq(hooks_run_one(&l.hooks[0], &ctx, &res), 1);
        ck_assert_int_eq(res.status, HOOK_TIMED_OUT);
        free(s);
        s = hook_result_to_string(&res, ctx.timeout);
        ck_assert_str_eq(s, "ran past its timeout of 0.2s ([Timeouts] Hook=) and was killed");
        ck_assert_int_eq(access(out, F_OK), -1);
        ck_assert_int_eq(errno, ENOENT);
        hook_list_done(&l);
}
END_TEST

typedef struct Seen {
        char *log; /* "name:event " for each report */
        size_t size;
        FILE *f;
} Seen;

static void report(const Hook *hook, const HookResult *result, void *userdata) {
        Seen *seen = userdata;
        const char *what = !result                         ? (hook->kind == HOOK_EXECUTABLE ? "start"
                                                              : hook->kind == HOOK_MASKED   ? "masked"
                                                                                            : "skipped")
                           : result->status == HOOK_PASSED ? "passed"
                                                           : "failed";

        fprintf(seen->f, "%s:%s ", hook->name, what);
}

static void run_order_case(
        const char *stage, bool keep_going, const char *expect_ran, const char *expect_reports) {
        _cleanup_free_ char *out = scratch(stage), *ran = NULL;
        HookContext ctx = context(stage);
        HookFailure failure = {};
        Seen seen = {};
        char *s;

        ctx.keep_going = keep_going;
        seen.f = open_memstream(&seen.log, &seen.size);
        ck_assert_ptr_nonnull(seen.f);
        /* every hook appends its number; from both directories, in the order of the names */
        ck_assert_int_ge(asprintf(&s, "#!/bin/sh\necho 1 >>%s\n", out), 0);
        put(true, stage, "1-first", s, 0755);
        free(s);
        ck_assert_int_ge(asprintf(&s, "#!/bin/sh\necho 2 >>%s\nexit 7\n", out), 0);
        put(false, stage, "2-fails", s, 0755);
        free(s);
        ck_assert_int_ge(asprintf(&s, "#!/bin/sh\necho 3 >>%s\nexit 9\n", out), 0);
        put(true, stage, "3-fails-too", s, 0755);
        free(s);
        ck_assert_int_ge(asprintf(&s, "#!/bin/sh\necho 4 >>%s\n", out), 0);
        put(false, stage, "4-last", s, 0755);
        free(s);
        put(true, stage, "25-noexec", "#!/bin/sh\nexit 1\n", 0644);
        put(false, stage, "26-masked", "#!/bin/sh\nexit 1\n", 0755);
        put_link(true, stage, "26-masked", "/dev/null");

        ck_assert_int_eq(hooks_run(&ctx, report, &seen, &failure), 1);
        fclose(seen.f);
        ran = read_file(out);
        ck_assert_str_eq(ran, expect_ran);
        ck_assert_str_eq(seen.log, expect_reports);
        /* the first failure, whatever ran after it */
        ck_assert_str_eq(failure.hook.name, "2-fails");
        ck_assert_int_eq(failure.result.status, HOOK_EXITED);
        ck_assert_int_eq(failure.result.code, 7);
        hook_failure_done(&failure);
        free(seen.log);
}

START_TEST(test_run_stops_at_failure) {
        run_order_case(
                "t-order-stop", false, "1\n2", "1-first:start 1-first:passed 2-fails:start 2-fails:failed ");
}
END_TEST

START_TEST(test_run_keep_going) {
        run_order_case(
                "t-order-all",
                true,
                "1\n2\n3\n4",
                "1-first:start 1-first:passed 2-fails:start 2-fails:failed 25-noexec:skipped "
                "26-masked:masked 3-fails-too:start 3-fails-too:failed 4-last:start "
                "4-last:passed ");
}
END_TEST

START_TEST(test_run_none_or_all_pass) {
        _cleanup_free_ char *out = scratch("pass.out");
        HookContext ctx = context("t-pass");
        HookFailure failure = {};

        /* no directories: nothing to run */
        ck_assert_int_eq(hooks_run(&ctx, NULL, NULL, &failure), 0);
        put(false, "t-pass", "10-ok", "#!/bin/sh\nexit 0\n", 0755);
        put(true, "t-pass", "20-ok", "#!/bin/sh\ntrue\n", 0755);
        ck_assert_int_eq(hooks_run(&ctx, NULL, NULL, &failure), 0);
        ck_assert_ptr_null(failure.hook.name);
}
END_TEST

/* the uid of nobody, whom a hook may never belong to */
#define NOBODY 65534

/* a hook that leaves a mark when it runs, at dir/name */
static char *put_marking(const char *dir, const char *name, const char *mark) {
        _cleanup_free_ char *text = NULL;
        char *path;
        FILE *f;

        ck_assert_int_ge(asprintf(&text, "#!/bin/sh\necho ran >%s\n", mark), 0);
        ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(path, 0755), 0);
        return path;
}

/* a directory of this test under the root, root's own and 0755 unless chmod'ed after */
static char *scratch_dir(const char *name) {
        char *d = scratch(name);

        ck_assert_int_eq(paths_mkdir_p(d, 0755), 0);
        ck_assert_int_eq(chmod(d, 0755), 0);
        return d;
}

/* the only hook of stage is refused (never run: no mark), for a reason naming culprit and each of
 * wants */
static void assert_refused(
        const char *stage, const char *mark, const char *culprit, const char *const *wants) {
        _cleanup_free_ char *s = NULL;
        HookContext ctx = context(stage);
        HookResult res = {};
        HookList l = {};

        ck_assert_int_eq(hooks_list(stage, &l), 0);
        ck_assert_uint_eq(l.n, 1);
        ck_assert_int_eq(l.hooks[0].kind, HOOK_EXECUTABLE);
        ck_assert_int_eq(hooks_run_one(&l.hooks[0], &ctx, &res), 1);
        ck_assert_int_eq(res.status, HOOK_REFUSED);
        ck_assert_int_eq(res.code, -EPERM);
        ck_assert_int_eq(access(mark, F_OK), -1);
        s = hook_result_to_string(&res, ctx.timeout);
        ck_assert_ptr_nonnull(s);
        ck_assert_msg(strstr(s, culprit), "'%s' does not name %s", s, culprit);
        for (const char *const *w = wants; *w; w++)
                ck_assert_msg(strstr(s, *w), "'%s' does not say '%s'", s, *w);
        hook_result_done(&res);
        hook_list_done(&l);
}

START_TEST(test_refuse_owned_by_other) {
        _cleanup_free_ char *mark = scratch("other.mark"), *dir = stage_dir(true, "t-other"), *hook = NULL;

        hook = put_marking(dir, "10-other", mark);
        ck_assert_int_eq(chown(hook, NOBODY, NOBODY), 0);
        assert_refused(
                "t-other",
                mark,
                hook,
                (const char *const[]){ "uid 65534", "chown root:root", "chmod go-w", NULL });
}
END_TEST

START_TEST(test_refuse_group_writable) {
        _cleanup_free_ char *mark = scratch("gw.mark"), *dir = stage_dir(true, "t-gw"), *hook = NULL;

        hook = put_marking(dir, "10-gw", mark);
        ck_assert_int_eq(chmod(hook, 0775), 0);
        assert_refused("t-gw", mark, hook, (const char *const[]){ "mode 0775", "chmod go-w", NULL });
}
END_TEST

START_TEST(test_refuse_in_group_writable_dir) {
        _cleanup_free_ char *mark = scratch("gwdir.mark"), *dir = stage_dir(false, "t-gwdir"), *hook = NULL,
                            *culprit = NULL;

        hook = put_marking(dir, "10-hook", mark);
        ck_assert_int_eq(chmod(dir, 0775), 0);
        ck_assert_int_ge(asprintf(&culprit, "directory %s ", dir), 0);
        assert_refused("t-gwdir", mark, culprit, (const char *const[]){ "mode 0775", "chmod go-w", NULL });
}
END_TEST

START_TEST(test_refuse_symlink_to_other) {
        _cleanup_free_ char *mark = scratch("linkother.mark"), *targets = scratch_dir("targets-other"),
                            *target = NULL;

        /* the link is root's, in a good directory: its target is what runs, and is nobody's */
        target = put_marking(targets, "hook", mark);
        ck_assert_int_eq(chown(target, NOBODY, NOBODY), 0);
        put_link(true, "t-linkother", "10-link", target);
        assert_refused("t-linkother", mark, target, (const char *const[]){ "uid 65534", NULL });
}
END_TEST

START_TEST(test_refuse_symlink_into_world_writable) {
        _cleanup_free_ char *mark = scratch("linkww.mark"), *ww = scratch_dir("world-writable"),
                            *target = NULL, *culprit = NULL;

        /* a good file, but anyone may replace it: sticky or not, /tmp-style is not root's alone */
        target = put_marking(ww, "hook", mark);
        ck_assert_int_eq(chmod(ww, 01777), 0);
        put_link(true, "t-linkww", "10-link", target);
        ck_assert_int_ge(asprintf(&culprit, "directory %s ", ww), 0);
        assert_refused("t-linkww", mark, culprit, (const char *const[]){ "mode 1777", "chmod go-w", NULL });
}
END_TEST

START_TEST(test_good_hooks_run) {
        _cleanup_free_ char *mark = scratch("good.mark"), *mark2 = scratch("goodlink.mark"),
                            *dir = stage_dir(true, "t-good"), *targets = scratch_dir("targets-good"),
                            *hook = NULL, *target = NULL, *got = NULL;
        HookContext ctx = context("t-good");
        HookFailure failure = {};

        /* root's, 0755, in root's 0755 directories: runs, and so does a link to one such */
        hook = put_marking(dir, "10-plain", mark);
        target = put_marking(targets, "hook", mark2);
        put_link(true, "t-good", "20-link", target);
        ck_assert_int_eq(hooks_run(&ctx, NULL, NULL, &failure), 0);
        got = read_file(mark);
        ck_assert_str_eq(got, "ran");
        free(got);
        got = read_file(mark2);
        ck_assert_str_eq(got, "ran");
}
END_TEST

START_TEST(test_refused_stops_the_run) {
        _cleanup_free_ char *mark = scratch("stop1.mark"), *mark2 = scratch("stop2.mark"),
                            *dir = stage_dir(true, "t-stop"), *hook = NULL, *s = NULL;
        HookContext ctx = context("t-stop");
        HookFailure failure = {};

        /* a refused hook is a failing one: pre-upgrade.d stops there and reports it */
        hook = put_marking(dir, "10-other", mark);
        ck_assert_int_eq(chown(hook, NOBODY, NOBODY), 0);
        free(put_marking(dir, "20-after", mark2));
        ck_assert_int_eq(hooks_run(&ctx, NULL, NULL, &failure), 1);
        ck_assert_str_eq(failure.hook.name, "10-other");
        ck_assert_int_eq(failure.result.status, HOOK_REFUSED);
        s = hook_result_to_string(&failure.result, ctx.timeout);
        ck_assert_ptr_nonnull(strstr(s, "uid 65534"));
        ck_assert_int_eq(access(mark, F_OK), -1);
        ck_assert_int_eq(access(mark2, F_OK), -1);
        hook_failure_done(&failure);
}
END_TEST

static Suite *hooks_suite(void) {
        Suite *s = suite_create("hooks");
        TCase *tc = tcase_create("core");

        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_test(tc, test_list_empty);
        tcase_add_test(tc, test_list_union_order_masking);
        tcase_add_test(tc, test_list_dev_null_masks_alone);
        tcase_add_test(tc, test_list_unreadable_dir);
        tcase_add_test(tc, test_run_env);
        tcase_add_test(tc, test_run_failures);
        tcase_add_test(tc, test_run_timeout);
        tcase_add_test(tc, test_run_stops_at_failure);
        tcase_add_test(tc, test_run_keep_going);
        tcase_add_test(tc, test_run_none_or_all_pass);
        tcase_add_test(tc, test_refuse_owned_by_other);
        tcase_add_test(tc, test_refuse_group_writable);
        tcase_add_test(tc, test_refuse_in_group_writable_dir);
        tcase_add_test(tc, test_refuse_symlink_to_other);
        tcase_add_test(tc, test_refuse_symlink_into_world_writable);
        tcase_add_test(tc, test_good_hooks_run);
        tcase_add_test(tc, test_refused_stops_the_run);
        /* generous: the machine is shared and the sanitizers are slow */
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite_in_root(hooks_suite(), "test-hooks");
}
