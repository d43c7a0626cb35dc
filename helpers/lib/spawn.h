/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spawn.h: subprocesses from an explicit argv and environment, their output into the journal */
#pragma once

/* helpers/lib is an -I directory, so this file shadows the C library's <spawn.h> everywhere in the
 * build: pass that one through (as gnulib's wrapper headers do), so <spawn.h> means both. */
#include_next <spawn.h>

#include <signal.h>
#include <sys/types.h>

#include "macro.h"
#include "time-util.h"

/* A child's captured stdout may hold this much: more, and it is ended and spawn_run() fails with
 * -EFBIG (say "printed more than SPAWN_CAPTURE_MAX_MIB MiB"). A forwarded stream (stderr, or stdout
 * when not captured) may put this much into the log; the rest is read and dropped, with a note. */
#define SPAWN_CAPTURE_MAX_MIB 16
#define SPAWN_CAPTURE_MAX ((size_t)SPAWN_CAPTURE_MAX_MIB * 1024 * 1024)

typedef struct SpawnOptions {
        char **env;         /* the child's whole environment (NULL: PATH=/usr/sbin:/usr/bin:/sbin:/bin,
                             * LANG=C.UTF-8, plus HOME, USER and LOGNAME of run_as when set) */
        const char *cwd;    /* NULL: / (entered after dropping privileges) */
        uid_t uid;          /* with run_as NULL: drop to uid/gid (groups: gid only) when either is */
        gid_t gid;          /* not 0; ignored when run_as is set */
        const char *run_as; /* user name to drop to: uid, gid, groups (initgroups) and HOME
                             * from the user database; NULL: see uid/gid */
        usec_t timeout;     /* 0: none; on expiry SIGTERM, then SIGKILL after 5 s: -ETIME */
        const char *log_identifier; /* SYSLOG_IDENTIFIER= of the child's lines (NULL: argv[0]'s
                                     * basename) */
        const char *phase;          /* CODEBOLT_UPGRADE_PHASE= of the child's lines (NULL: log's) */
        char **ret_stdout;          /* non-NULL: capture stdout here (malloc'd, NUL-terminated),
                                     * written only when spawn_run() returns ≥0 */
        const char *stdin_data;     /* non-NULL: written to the child's stdin (else /dev/null);
                                     * the channel for secrets, which never go in argv, env or logs */
        int stdin_fd;               /* > 0: the child's stdin is this fd (instead of stdin_data) */
        int stdout_fd;              /* > 0: the child's stdout goes to this fd (not captured, not logged) */
        int fd3;                    /* > 2: the child gets this fd as its fd 3, the channel for a secret
                                     * its program opens by name (libpq's passfile=/proc/self/fd/3)
                                     * when stdin is taken */
        int *ret_signal;            /* non-NULL: the signal that ended the child, 0 when it exited
                                     * (128+signal in the status cannot tell "exit 143" from SIGTERM);
                                     * written only when spawn_run() returns 0 */
        int exec_fd;                /* > 0: execute this fd (O_PATH is enough) instead of looking
                                     * argv[0] up, which is then only the name the child is given; a
                                     * #! script then reads itself as /dev/fd/<n>, so the fd stays
                                     * open in the child and /dev/fd must exist */
} SpawnOptions;

/* append one formatted "NAME=value" to the NULL-terminated environment *env of *n entries */
int spawn_env_push(char ***env, size_t *n, const char *fmt, ...) _printf_(3, 4);

/* While spawn_run() waits, a non-zero *flag (set by the caller's SIGTERM handler) terminates the
 * child (SIGTERM, SIGKILL after 5 s) and makes spawn_run() return -ECANCELED. NULL: none. */
void spawn_set_cancel_flag(volatile sig_atomic_t *flag);

/* Run argv[0] (a path, or a name looked up in the child's PATH) with argv, never through a shell.
 * The child gets its own process group (a timeout or a cancel signals the whole group), default
 * signal dispositions, no inherited descriptors but 0-2 (and 3 with fd3). Its stdout (unless
 * captured) and stderr are forwarded line by line to the journal (stdout at PRIORITY=6, stderr at 4),
 * or to stderr prefixed with the identifier when not under systemd.
 *
 * Returns 0 and *ret_status = the exit code (0..255) or 128+signal when the child ran to its end;
 * with ret_status NULL, a non-zero status is -EPROTO. -ENOENT/-EACCES/… when it could not be
 * started, -ESRCH when run_as is unknown, -ETIME on timeout, -ECANCELED when cancelled, -EFBIG when
 * the captured stdout passed SPAWN_CAPTURE_MAX (the child's process group is killed).
 * SIGCHLD must not be ignored by the caller (the child would be reaped behind our back). */
int spawn_run(char *const argv[], const SpawnOptions *opts, int *ret_status);

/* The exit status of a spawn_fork_as() child that could not become its user. */
#define SPAWN_EXIT_CREDENTIALS 127

/* Fork a child that goes on running this program as the user run_as (NULL: as we are). The user
 * is looked up before the fork (-ESRCH when unknown); the child takes its groups (initgroups'
 * list), gid and uid unless it already is that user, makes sure there is no way back to root,
 * gets HOME, USER and LOGNAME of the user and enters the home (else /); a child that cannot do
 * all that exits with SPAWN_EXIT_CREDENTIALS. Returns 1 in the parent with *ret_pid, 0 in the
 * child, -errno when no child was made. The child may call anything only when the caller is
 * single-threaded. */
int spawn_fork_as(const char *run_as, pid_t *ret_pid);

/* The uid and gid of user name (getpwnam_r, with a buffer that grows as needed); -ESRCH when there
 * is no such user, -errno when the lookup failed. */
int spawn_lookup_user(const char *name, uid_t *ret_uid, gid_t *ret_gid);

/* Wait for the child pid, through EINTR: 0 and *ret_status (as waitpid() gives it; NULL: not
 * wanted), or -ECHILD when it was reaped already (SIGCHLD ignored) and other -errno. */
int spawn_reap(pid_t pid, int *ret_status);

/* For _cleanup_: SIGKILL the child *pid (its process group when it leads one) and reap it; then
 * *pid = 0. Nothing when *pid ≤ 0. errno is kept. */
void spawn_kill_and_reapp(pid_t *pid);
