/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hooks.h: the stage hook directories (pre-upgrade.d, smoke.d, post-upgrade.d, rollback.d) and running them
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "time-util.h"

/* The stages (docs/architecture.md, "State on disk"); the directories are <stage>.d under
 *   /usr/lib/codebolt-upgrade/hooks/   what the package ships
 *   /etc/codebolt-upgrade/hooks/       the site's: a file here masks one of the same name above, and a
 *                                      symlink to /dev/null masks it without replacing it
 * both taken under $CODEBOLT_UPGRADE_ROOT. */
#define HOOKS_PRE_UPGRADE "pre-upgrade"   /* in preflight: a failure refuses the upgrade */
#define HOOKS_SMOKE "smoke"               /* in smoke: a failure fails the smoke test (rollback) */
#define HOOKS_POST_UPGRADE "post-upgrade" /* in finish: a failure is reported only */
#define HOOKS_ROLLBACK "rollback"         /* after a rollback ends: a failure is reported only */

typedef enum HookKind {
        HOOK_EXECUTABLE,     /* runs */
        HOOK_MASKED,         /* a symlink to /dev/null (or /dev/null itself): nothing runs, by intent */
        HOOK_NOT_EXECUTABLE, /* a regular file without an x bit: skipped, which deserves a warning */
        HOOK_NOT_REGULAR,    /* a directory, a device, a dangling symlink…: skipped, with a warning */
} HookKind;

typedef struct Hook {
        char *name; /* the file name, the key of the /etc-over-/usr/lib masking */
        char *path; /* the file that wins, rooted */
        HookKind kind;
} Hook;

typedef struct HookList {
        Hook *hooks; /* in strcmp() order of the names */
        size_t n;
} HookList;

/* frees the hooks of a HookList (for _cleanup_) */
void hook_list_done(HookList *l);

/* Every entry of the stage's two directories, by name, /etc masking /usr/lib. Dotfiles and backups
 * (a name ending in '~', or in .dpkg-old, .dpkg-new, .dpkg-dist, .rpmnew, .rpmsave, .swp, … as
 * systemd ignores them) are left out. A missing directory is empty. -errno when a directory cannot be
 * read; *ret written only on success. */
int hooks_list(const char *stage, HookList *ret);

/* What a hook gets besides stdin /dev/null and a working directory of /. Its environment is exactly:
 *   PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin   (systemd's for services)
 *   LANG=C.UTF-8
 *   CODEBOLT_UPGRADE_STAGE       the stage: pre-upgrade, smoke, post-upgrade, rollback
 *   CODEBOLT_UPGRADE_PHASE       the phase running the hooks: preflight, smoke, finish, rollback
 *   CODEBOLT_UPGRADE_DEPLOYMENT  "default", or the name of deployments/<name>.conf
 *   CODEBOLT_UPGRADE_FROM        the version running before the upgrade
 *   CODEBOLT_UPGRADE_TO          the version upgraded to
 *   CODEBOLT_UPGRADE_BACKUP      the upgrade's backup directory (empty before the backup phase)
 *   CODEBOLT_UPGRADE_RESULT      rollback stage only: rolled-back, restored, aborted or held
 * Every variable but RESULT is always set, empty when not known. */
typedef struct HookContext {
        const char *stage;
        const char *phase;
        const char *deployment;
        const char *from;
        const char *to;
        const char *backup;
        const char *result; /* NULL: CODEBOLT_UPGRADE_RESULT is not set */
        usec_t timeout;     /* each hook's bound ([Timeouts] Hook=); 0 or USEC_INFINITY: none */
        bool keep_going;    /* hooks_run(): run the rest after a failure */
} HookContext;

typedef enum HookStatus {
        HOOK_PASSED,      /* exit status 0 */
        HOOK_EXITED,      /* a non-zero exit status: code */
        HOOK_KILLED,      /* killed by signal code */
        HOOK_TIMED_OUT,   /* ran past the timeout and was killed (SIGTERM, SIGKILL 5 s later) */
        HOOK_NOT_STARTED, /* could not be executed: code is -errno (-ENOEXEC: no #! line, …) */
        HOOK_REFUSED,     /* not run: the hook, or a directory on its path, is not root's alone
                           * (trust_open_root_file()); code is -errno, why says what and the fix */
} HookStatus;

typedef struct HookResult {
        HookStatus status;
        int code;
        char *why; /* HOOK_REFUSED: owned, released with hook_result_done() */
} HookResult;

/* frees the why of a HookResult (for _cleanup_) */
void hook_result_done(HookResult *r);

/* "exited with status 3", "was killed by signal SIGSEGV", "ran past its timeout of 300 s and was
 * killed", "could not be executed: Exec format error", "was refused: <why>"; NULL on OOM */
char *hook_result_to_string(const HookResult *r, usec_t timeout);

/* Run one HOOK_EXECUTABLE hook and wait for it. As it runs as root, it is run only when it is root's
 * alone: the file and every directory on its path (those of a symlink's target too) owned by root and
 * not writable by group or other, else HOOK_REFUSED; what runs is the very file judged (executed
 * through the fd the check opened; a #! script is then handed to its interpreter as /dev/fd/<n>). Its stdout
 * (priority info) and stderr (warning) go to the journal line by line under
 * SYSLOG_IDENTIFIER=<stage>.d/<name> and the phase. Returns 0 when it passed, 1 when it failed (how in
 * *ret_result, also written on 0), -ECANCELED when the spawn cancel flag (spawn_set_cancel_flag()) was
 * raised, -ENOMEM. */
int hooks_run_one(const Hook *hook, const HookContext *ctx, HookResult *ret_result);

/* Told about every entry of the list in order, so the caller can log it: masked and skipped ones once
 * with result NULL; an executable one before it starts (result NULL) and after it ended. */
typedef void (*HookReport)(const Hook *hook, const HookResult *result, void *userdata);

typedef struct HookFailure {
        Hook hook; /* a copy */
        HookResult result;
} HookFailure;

/* frees the copied hook and the result of a HookFailure (for _cleanup_) */
void hook_failure_done(HookFailure *f);

/* List ctx->stage's hooks and run the executable ones in order; a failure (a refused hook is one)
 * stops the run unless ctx->keep_going. Returns 0 when none failed, 1 when one did (the first failure in
 * *ret_failure, released with hook_failure_done(); may be NULL), -errno when the hooks could not be listed,
 * on -ECANCELED or -ENOMEM. */
int hooks_run(const HookContext *ctx, HookReport report, void *userdata, HookFailure *ret_failure);
