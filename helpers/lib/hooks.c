/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hooks.c: the stage hook directories (pre-upgrade.d, smoke.d, post-upgrade.d, rollback.d) and running them
 */
#define _GNU_SOURCE
#include <assert.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fd-util.h"
#include "hooks.h"
#include "macro.h"
#include "paths.h"
#include "spawn.h"
#include "trust.h"

/* systemd's default for services: a site hook may well live in /usr/local */
#define HOOKS_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void hook_list_done(HookList *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->hooks[i].name);
                free(l->hooks[i].path);
        }
        free(l->hooks);
        *l = (HookList){};
}

void hook_result_done(HookResult *r) {
        free(r->why);
        *r = (HookResult){};
}

void hook_failure_done(HookFailure *f) {
        free(f->hook.name);
        free(f->hook.path);
        hook_result_done(&f->result);
        *f = (HookFailure){};
}

static bool endswith(const char *s, const char *suffix) {
        size_t l = strlen(s), ls = strlen(suffix);

        return l >= ls && streq(s + l - ls, suffix);
}

/* what systemd ignores in its configuration directories (hidden_or_backup_file()): what a package
 * manager or an editor leaves beside a hook must never run as one */
static bool hidden_or_backup(const char *name) {
        static const char *const suffixes[] = {
                "rpmnew",    "rpmsave",  "rpmorig",     "dpkg-old",    "dpkg-new", "dpkg-tmp",
                "dpkg-dist", "dpkg-bak", "dpkg-backup", "dpkg-remove", "ucf-new",  "ucf-old",
                "ucf-dist",  "swp",      "bak",         "old",         "new",
        };
        const char *dot;

        if (name[0] == '.' || endswith(name, "~"))
                return true;
        dot = strrchr(name, '.');
        if (!dot)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                if (streq(dot + 1, suffixes[i]))
                        return true;
        return false;
}

/* one directory entry while listing: prio 1 (/etc) beats 0 (/usr/lib) */
typedef struct Entry {
        char *name;
        char *path;
        int prio;
} Entry;

typedef struct Entries {
        Entry *e;
        size_t n;
} Entries;

static void entries_done(Entries *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->e[i].name);
                free(l->e[i].path);
        }
        free(l->e);
}

static int entries_add_dir(Entries *l, const char *dir, int prio) {
        _cleanup_closedir_ DIR *d = opendir(dir);

        if (!d)
                return errno == ENOENT ? 0 : -errno;

        for (;;) {
                _cleanup_free_ char *name = NULL, *path = NULL;
                struct dirent *de;
                Entry *grown;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return -errno;
                        return 0;
                }
                if (hidden_or_backup(de->d_name))
                        continue;

                name = strdup(de->d_name);
                if (!name || asprintf(&path, "%s/%s", dir, de->d_name) < 0)
                        return -ENOMEM;
                grown = reallocarray(l->e, l->n + 1, sizeof(Entry));
                if (!grown)
                        return -ENOMEM;
                l->e = grown;
                l->e[l->n++] = (Entry){ .name = TAKE_PTR(name), .path = TAKE_PTR(path), .prio = prio };
        }
}

/* by name; of equal names the winner (/etc) first */
static int entry_compare(const void *a, const void *b) {
        const Entry *x = a, *y = b;
        int c = strcmp(x->name, y->name);

        return c != 0 ? c : y->prio - x->prio;
}

static HookKind classify(const char *path) {
        struct stat st;

        if (lstat(path, &st) < 0)
                return HOOK_NOT_REGULAR;
        /* read, not followed: under $CODEBOLT_UPGRADE_ROOT the link still means the real /dev/null */
        if (S_ISLNK(st.st_mode)) {
                /* only compared with "/dev/null": one byte more tells a longer target apart */
                char target[sizeof("/dev/null") + 1];
                ssize_t n = readlink(path, target, sizeof(target));

                if (n == (ssize_t)strlen("/dev/null") && memcmp(target, "/dev/null", (size_t)n) == 0)
                        return HOOK_MASKED;
                if (stat(path, &st) < 0)
                        return HOOK_NOT_REGULAR;
        }
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
                return HOOK_MASKED;
        if (!S_ISREG(st.st_mode))
                return HOOK_NOT_REGULAR;
        if ((st.st_mode & 0111) == 0)
                return HOOK_NOT_EXECUTABLE;
        return HOOK_EXECUTABLE;
}

int hooks_list(const char *stage, HookList *ret) {
        _cleanup_free_ char *vendor = paths_vendor_hook_dir(stage), *site = paths_hook_dir(stage);
        _cleanup_(entries_done) Entries l = {};
        _cleanup_(hook_list_done) HookList out = {};
        int r;

        assert(stage);
        if (!vendor || !site)
                return -ENOMEM;
        r = entries_add_dir(&l, vendor, 0);
        if (r >= 0)
                r = entries_add_dir(&l, site, 1);
        if (r < 0)
                return r;
        if (l.n > 0)
                qsort(l.e, l.n, sizeof(Entry), entry_compare);

        out.hooks = calloc(l.n ?: 1, sizeof(Hook));
        if (!out.hooks)
                return -ENOMEM;
        for (size_t i = 0; i < l.n; i++) {
                Entry *e = &l.e[i];

                HookKind kind;

                if (out.n > 0 && streq(out.hooks[out.n - 1].name, e->name))
                        continue; /* masked by the /etc entry before it */
                kind = classify(e->path);
                out.hooks[out.n++] = (Hook){
                        .name = TAKE_PTR(e->name),
                        .path = TAKE_PTR(e->path),
                        .kind = kind,
                };
        }

        *ret = out;
        out = (HookList){};
        return 0;
}

static int hook_env(const HookContext *ctx, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        size_t n = 0;
        int r;

        if ((r = spawn_env_push(&env, &n, "PATH=%s", HOOKS_PATH)) < 0 ||
            (r = spawn_env_push(&env, &n, "LANG=C.UTF-8")) < 0 ||
            (r = spawn_env_push(&env, &n, "CODEBOLT_UPGRADE_STAGE=%s", ctx->stage)) < 0 ||
            (r = spawn_env_push(&env, &n, "CODEBOLT_UPGRADE_PHASE=%s", strempty(ctx->phase))) < 0 ||
            (r = spawn_env_push(&env, &n, "CODEBOLT_UPGRADE_DEPLOYMENT=%s", strempty(ctx->deployment))) <
                    0 ||
            (r = spawn_env_push(&env, &n, "CODEBOLT_UPGRADE_FROM=%s", strempty(ctx->from))) < 0 ||
            (r = spawn_env_push(&env, &n, "CODEBOLT_UPGRADE_TO=%s", strempty(ctx->to))) < 0 ||
            (r = spawn_env_push(&env, &n, "CODEBOLT_UPGRADE_BACKUP=%s", strempty(ctx->backup))) < 0)
                return r;
        if (ctx->result && (r = spawn_env_push(&env, &n, "CODEBOLT_UPGRADE_RESULT=%s", ctx->result)) < 0)
                return r;

        *ret = TAKE_PTR(env);
        return 0;
}

int hooks_run_one(const Hook *hook, const HookContext *ctx, HookResult *ret_result) {
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *identifier = NULL, *why = NULL;
        _cleanup_close_ int fd = -EBADF;
        char *argv[] = { hook->path, NULL };
        int status = 0, sig = 0, r;
        HookResult res = {};

        assert(hook->kind == HOOK_EXECUTABLE);
        /* it runs as root: whoever may change it, or a directory on its way, could run anything */
        fd = trust_open_root_file(hook->path, 0, &why);
        if (fd == -ENOMEM)
                return -ENOMEM;
        if (fd < 0) {
                *ret_result = (HookResult){ .status = HOOK_REFUSED, .code = fd, .why = TAKE_PTR(why) };
                return 1;
        }

        r = hook_env(ctx, &env);
        if (r < 0)
                return r;
        /* journalctl -t pre-upgrade.d/50-site-check finds what it said */
        if (asprintf(&identifier, "%s.d/%s", ctx->stage, hook->name) < 0)
                return -ENOMEM;

        SpawnOptions o = {
                .env = env,
                .log_identifier = identifier,
                .phase = ctx->phase,
                .timeout = ctx->timeout == USEC_INFINITY ? 0 : ctx->timeout,
                .ret_signal = &sig,
                /* the file judged above, whatever its name points at by now */
                .exec_fd = fd,
        };
        r = spawn_run(argv, &o, &status);
        if (r == -ECANCELED || r == -ENOMEM)
                return r;
        if (r == -ETIME)
                res = (HookResult){ .status = HOOK_TIMED_OUT };
        else if (r < 0)
                res = (HookResult){ .status = HOOK_NOT_STARTED, .code = r };
        else if (sig > 0)
                res = (HookResult){ .status = HOOK_KILLED, .code = sig };
        else if (status != 0)
                res = (HookResult){ .status = HOOK_EXITED, .code = status };

        *ret_result = res;
        return res.status == HOOK_PASSED ? 0 : 1;
}

/* "5min", "90s", "0.5s" */
static char *format_timeout(usec_t t) {
        char *s;
        int r;

        if (t >= 60 * USEC_PER_SEC && t % (60 * USEC_PER_SEC) == 0)
                r = asprintf(&s, "%llumin", (unsigned long long)(t / (60 * USEC_PER_SEC)));
        else if (t % USEC_PER_SEC == 0)
                r = asprintf(&s, "%llus", (unsigned long long)(t / USEC_PER_SEC));
        else
                r = asprintf(&s, "%gs", (double)t / (double)USEC_PER_SEC);
        return r < 0 ? NULL : s;
}

char *hook_result_to_string(const HookResult *r, usec_t timeout) {
        _cleanup_free_ char *t = NULL;
        const char *abbrev;
        char *s = NULL;
        int k = -1;

        switch (r->status) {
        case HOOK_PASSED:
                return strdup("passed");
        case HOOK_EXITED:
                k = asprintf(&s, "exited with status %d", r->code);
                break;
        case HOOK_KILLED:
                abbrev = sigabbrev_np(r->code);
                k = abbrev ? asprintf(&s, "was killed by signal SIG%s", abbrev)
                           : asprintf(&s, "was killed by signal %d", r->code);
                break;
        case HOOK_TIMED_OUT:
                t = format_timeout(timeout);
                if (!t)
                        return NULL;
                k = asprintf(&s, "ran past its timeout of %s ([Timeouts] Hook=) and was killed", t);
                break;
        case HOOK_REFUSED:
                k = asprintf(&s, "was refused: %s", r->why ?: strerror(-r->code));
                break;
        case HOOK_NOT_STARTED:
                k = asprintf(
                        &s,
                        "could not be executed: %s%s",
                        strerror(-r->code),
                        r->code == -ENOEXEC ? " (does it start with a #! line?)" : "");
                break;
        }
        return k < 0 ? NULL : s;
}

int hooks_run(const HookContext *ctx, HookReport report, void *userdata, HookFailure *ret_failure) {
        _cleanup_(hook_list_done) HookList l = {};
        _cleanup_(hook_failure_done) HookFailure first = {};
        bool failed = false;
        int r;

        r = hooks_list(ctx->stage, &l);
        if (r < 0)
                return r;

        for (size_t i = 0; i < l.n; i++) {
                const Hook *hook = &l.hooks[i];
                _cleanup_(hook_result_done) HookResult res = {};

                if (report)
                        report(hook, NULL, userdata);
                if (hook->kind != HOOK_EXECUTABLE)
                        continue;

                r = hooks_run_one(hook, ctx, &res);
                if (r < 0)
                        return r;
                if (report)
                        report(hook, &res, userdata);
                if (r == 0)
                        continue;

                if (!failed) {
                        first.hook = (Hook){ .name = strdup(hook->name),
                                             .path = strdup(hook->path),
                                             .kind = hook->kind };
                        first.result = res;
                        res.why = NULL;
                        if (!first.hook.name || !first.hook.path)
                                return -ENOMEM;
                        failed = true;
                }
                if (!ctx->keep_going)
                        break;
        }

        if (failed && ret_failure) {
                *ret_failure = first;
                first = (HookFailure){};
        }
        return failed ? 1 : 0;
}
