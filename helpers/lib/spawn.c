/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spawn.c: subprocesses from an explicit argv and environment, their output into the journal */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "log.h"
#include "macro.h"
#include "spawn.h"
#include "string-util.h"
#include "time-util.h"

#define SPAWN_DEFAULT_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
#define SPAWN_KILL_GRACE_USEC (5 * USEC_PER_SEC)
/* a cancel signal may land between the flag check and poll(): look again this often */
#define SPAWN_CANCEL_POLL_MSEC 200
/* without a pidfd (kernel < 5.3) look for the child's exit this often */
#define SPAWN_REAP_POLL_MSEC 50
/* a longer line is forwarded in pieces */
#define SPAWN_LINE_MAX ((size_t)64 * 1024)
#define SPAWN_READ_CHUNK ((size_t)16 * 1024)
#define SPAWN_STR_(x) #x
#define SPAWN_STR(x) SPAWN_STR_(x)

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static volatile sig_atomic_t *cancel_flag = NULL;

void spawn_set_cancel_flag(volatile sig_atomic_t *flag) {
        cancel_flag = flag;
}

static bool cancel_requested(void) {
        return cancel_flag && *cancel_flag;
}

/* what the child becomes: resolved in the parent, since after fork() only async-signal-safe calls
 * are allowed (initgroups() reads the group database) */
typedef struct Credentials {
        bool drop;
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        size_t n_groups;
        char *user;
        char *home;
} Credentials;

static void credentials_done(Credentials *c) {
        free(c->groups);
        free(c->user);
        free(c->home);
}

/* name's passwd entry into *pw, its strings in *ret_buf (the caller frees it); -ESRCH when unknown */
static int passwd_lookup(const char *name, struct passwd *pw, char **ret_buf) {
        _cleanup_free_ char *buf = NULL;
        struct passwd *result = NULL;
        size_t bufsize = 4096;
        int r;

        for (;;) {
                char *nb = realloc(buf, bufsize);
                if (!nb)
                        return -ENOMEM;
                buf = nb;
                r = getpwnam_r(name, pw, buf, bufsize, &result);
                if (r != ERANGE)
                        break;
                bufsize *= 2;
        }
        if (r != 0)
                return -r;
        if (!result)
                return -ESRCH;
        *ret_buf = TAKE_PTR(buf);
        return 0;
}

int spawn_lookup_user(const char *name, uid_t *ret_uid, gid_t *ret_gid) {
        _cleanup_free_ char *buf = NULL;
        struct passwd pw;
        int r;

        r = passwd_lookup(name, &pw, &buf);
        if (r < 0)
                return r;
        *ret_uid = pw.pw_uid;
        *ret_gid = pw.pw_gid;
        return 0;
}

static int credentials_lookup(const char *name, Credentials *ret) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ gid_t *groups = NULL;
        _cleanup_free_ char *user = NULL, *home = NULL;
        struct passwd pw;
        int n = 16;
        int r;

        r = passwd_lookup(name, &pw, &buf);
        if (r < 0)
                return r;

        for (;;) {
                gid_t *ng = reallocarray(groups, (size_t)n, sizeof(gid_t));
                int want = n;
                if (!ng)
                        return -ENOMEM;
                groups = ng;
                if (getgrouplist(name, pw.pw_gid, groups, &want) >= 0) {
                        n = want;
                        break;
                }
                n = want > n ? want : n * 2;
        }

        user = strdup(pw.pw_name);
        home = strdup(pw.pw_dir);
        if (!user || !home)
                return -ENOMEM;

        *ret = (Credentials){
                .drop = true,
                .uid = pw.pw_uid,
                .gid = pw.pw_gid,
                .groups = TAKE_PTR(groups),
                .n_groups = (size_t)n,
                .user = TAKE_PTR(user),
                .home = TAKE_PTR(home),
        };
        return 0;
}

static int credentials_resolve(const SpawnOptions *o, Credentials *ret) {
        if (o->run_as)
                return credentials_lookup(o->run_as, ret);

        *ret = (Credentials){};
        if (o->uid == 0 && o->gid == 0)
                return 0;

        ret->groups = malloc(sizeof(gid_t));
        if (!ret->groups)
                return -ENOMEM;
        ret->groups[0] = o->gid;
        ret->n_groups = 1;
        ret->uid = o->uid;
        ret->gid = o->gid;
        ret->drop = true;
        return 0;
}

int spawn_env_push(char ***l, size_t *n, const char *fmt, ...) {
        char **nl;
        char *s;

        s = STRPRINTF_ARGS(fmt);
        if (!s)
                return -ENOMEM;

        nl = reallocarray(*l, *n + 2, sizeof(char *));
        if (!nl) {
                free(s);
                return -ENOMEM;
        }
        *l = nl;
        nl[(*n)++] = s;
        nl[*n] = NULL;
        return 0;
}

static int default_env(const Credentials *c, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        size_t n = 0;
        int r;

        r = spawn_env_push(&env, &n, "PATH=%s", SPAWN_DEFAULT_PATH);
        if (r >= 0)
                r = spawn_env_push(&env, &n, "LANG=C.UTF-8");
        if (r >= 0 && c->home)
                r = spawn_env_push(&env, &n, "HOME=%s", c->home);
        if (r >= 0 && c->user)
                r = spawn_env_push(&env, &n, "USER=%s", c->user);
        if (r >= 0 && c->user)
                r = spawn_env_push(&env, &n, "LOGNAME=%s", c->user);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(env);
        return 0;
}

/* argv[0] as given when it has a slash, else looked up in the child's PATH (not ours) */
static int find_executable(const char *name, char *const *env, char **ret) {
        const char *path = SPAWN_DEFAULT_PATH;
        char *p;

        if (!*name)
                return -ENOENT;
        if (strchr(name, '/')) {
                p = strdup(name);
                if (!p)
                        return -ENOMEM;
                *ret = p;
                return 0;
        }

        for (char *const *e = env; e && *e; e++) {
                const char *v = startswith(*e, "PATH=");
                if (v) {
                        path = v;
                        break;
                }
        }

        for (const char *s = path; *s;) {
                size_t l = strcspn(s, ":");
                struct stat st;

                /* an empty entry would mean the working directory: never */
                if (l > 0) {
                        if (asprintf(&p, "%.*s/%s", (int)l, s, name) < 0)
                                return -ENOMEM;
                        if (stat(p, &st) >= 0 && S_ISREG(st.st_mode) && access(p, X_OK) >= 0) {
                                *ret = p;
                                return 0;
                        }
                        free(p);
                }
                s += l;
                if (*s == ':')
                        s++;
        }
        return -ENOENT;
}

/* keep our pipe ends off 0-2, so the child's dup2() onto 0-2 never meets one of them */
static int fd_move_above_stdio(int *fd) {
        int nfd;

        if (*fd > STDERR_FILENO)
                return 0;
        nfd = fcntl(*fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        if (nfd < 0)
                return -errno;
        close(*fd);
        *fd = nfd;
        return 0;
}

static int make_pipe(int fds[2]) {
        int r;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        r = fd_move_above_stdio(&fds[0]);
        if (r >= 0)
                r = fd_move_above_stdio(&fds[1]);
        if (r < 0) {
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        return 0;
}

static void close_fd(int *fd) {
        closep(fd);
        *fd = -EBADF;
}

static int fd_nonblock(int fd) {
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

static void kill_group(pid_t pid, int sig) {
        /* the child leads its own process group; fall back to the child alone */
        if (kill(-pid, sig) < 0)
                (void)kill(pid, sig);
}

int spawn_reap(pid_t pid, int *ret_status) {
        int status;

        assert(pid > 0);

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (ret_status)
                *ret_status = status;
        return 0;
}

/* on every error path after the start: no child is left behind, running or a zombie */
void spawn_kill_and_reapp(pid_t *pid) {
        int saved = errno;

        if (*pid <= 0)
                return;
        kill_group(*pid, SIGKILL);
        (void)spawn_reap(*pid, NULL);
        *pid = 0;
        errno = saved;
}

static void file_actions_destroyp(posix_spawn_file_actions_t **fa) {
        if (*fa)
                posix_spawn_file_actions_destroy(*fa);
}

static void spawnattr_destroyp(posix_spawnattr_t **a) {
        if (*a)
                posix_spawnattr_destroy(*a);
}

typedef struct ChildSetup {
        const char *path;
        char *const *argv;
        char *const *envp;
        const char *cwd;
        const Credentials *creds;
        int stdin_fd, stdout_fd, stderr_fd;
        int fd3;     /* < 0: none; else above 3, so that its dup2() onto 3 is never a no-op */
        int exec_fd; /* -EBADF: execute path */
} ChildSetup;

static int start_posix_spawn(const ChildSetup *c, pid_t *ret_pid) {
        posix_spawn_file_actions_t fa_storage;
        posix_spawnattr_t attr_storage;
        _cleanup_(file_actions_destroyp) posix_spawn_file_actions_t *fa = NULL;
        _cleanup_(spawnattr_destroyp) posix_spawnattr_t *attr = NULL;
        sigset_t none, all;
        pid_t pid;
        int r;

        r = posix_spawn_file_actions_init(&fa_storage);
        if (r != 0)
                return -r;
        fa = &fa_storage;
        r = posix_spawnattr_init(&attr_storage);
        if (r != 0)
                return -r;
        attr = &attr_storage;

        sigemptyset(&none);
        sigfillset(&all);
        if ((r = posix_spawn_file_actions_adddup2(fa, c->stdin_fd, STDIN_FILENO)) != 0 ||
            (r = posix_spawn_file_actions_adddup2(fa, c->stdout_fd, STDOUT_FILENO)) != 0 ||
            (r = posix_spawn_file_actions_adddup2(fa, c->stderr_fd, STDERR_FILENO)) != 0 ||
            (r = posix_spawn_file_actions_addchdir_np(fa, c->cwd)) != 0 ||
            (r = posix_spawnattr_setflags(
                     attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP)) != 0 ||
            (r = posix_spawnattr_setpgroup(attr, 0)) != 0 ||
            (r = posix_spawnattr_setsigmask(attr, &none)) != 0 ||
            (r = posix_spawnattr_setsigdefault(attr, &all)) != 0)
                return -r;
        /* after those onto 0-2, whose sources may be 3 */
        if (c->fd3 >= 0 && (r = posix_spawn_file_actions_adddup2(fa, c->fd3, 3)) != 0)
                return -r;
#ifdef __GLIBC__
#if __GLIBC_PREREQ(2, 34)
        /* after the dup2()s, which need our pipe ends: ours are close-on-exec, the caller's may not be */
        r = posix_spawn_file_actions_addclosefrom_np(fa, c->fd3 >= 0 ? 4 : STDERR_FILENO + 1);
        if (r != 0)
                return -r;
#endif
#endif

        r = posix_spawn(&pid, c->path, fa, attr, c->argv, c->envp);
        if (r != 0)
                return -r;

        *ret_pid = pid;
        return 0;
}

/* after fork(), async-signal-safe: groups first, the uid last (after it nothing else may be changed),
 * then make sure there is no way back; nothing to change when we already are that user */
static int credentials_apply(const Credentials *cr) {
        uid_t ruid, euid, suid;
        gid_t rgid, egid, sgid;

        if (!cr->drop)
                return 0;

        if (getuid() != cr->uid || geteuid() != cr->uid || getgid() != cr->gid)
                if (setgroups(cr->n_groups, cr->groups) < 0 || setresgid(cr->gid, cr->gid, cr->gid) < 0 ||
                    setresuid(cr->uid, cr->uid, cr->uid) < 0)
                        return -errno;

        if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
                return -errno;
        if (ruid != cr->uid || euid != cr->uid || suid != cr->uid || rgid != cr->gid || egid != cr->gid ||
            sgid != cr->gid)
                return -EPERM;
        if (cr->uid != 0 && setuid(0) >= 0)
                return -EPERM;
        return 0;
}

/* after fork(): async-signal-safe calls only */
static _noreturn_ void child_exec(const ChildSetup *c, int errfd) {
        const Credentials *cr = c->creds;
        struct sigaction sa = { .sa_handler = SIG_DFL };
        sigset_t none;
        int e;

        if (setpgid(0, 0) < 0)
                goto fail;

        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void)sigaction(sig, &sa, NULL);
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                goto fail;

        if (dup2(c->stdin_fd, STDIN_FILENO) < 0 || dup2(c->stdout_fd, STDOUT_FILENO) < 0 ||
            dup2(c->stderr_fd, STDERR_FILENO) < 0)
                goto fail;
        /* our own error pipe must not be the one replaced */
        if (c->fd3 >= 0 && errfd == 3) {
                errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 4);
                if (errfd < 0)
                        _exit(127);
        }
        if (c->fd3 >= 0 && dup2(c->fd3, 3) < 0)
                goto fail;

        e = credentials_apply(cr);
        if (e < 0) {
                errno = -e;
                goto fail;
        }

        /* entered as the user, so a directory the user may not enter fails as it would for them */
        if (chdir(c->cwd) < 0)
                goto fail;

        /* errfd is close-on-exec already */
        (void)syscall(SYS_close_range, c->fd3 >= 0 ? 4 : STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC);

        if (c->exec_fd >= 0) {
                /* a #! script's interpreter opens /dev/fd/<exec_fd>: it must survive the exec */
                if (fcntl(c->exec_fd, F_SETFD, 0) < 0)
                        goto fail;
                (void)syscall(SYS_execveat, c->exec_fd, "", c->argv, c->envp, AT_EMPTY_PATH);
        } else
                execve(c->path, c->argv, c->envp);

fail:
        e = errno;
        (void)!write(errfd, &e, sizeof(e));
        _exit(127);
}

/* posix_spawn() cannot change credentials nor execute an fd: fork(), drop them, execve() */
static int start_fork_exec(const ChildSetup *c, pid_t *ret_pid) {
        _cleanup_close_ int err_r = -EBADF, err_w = -EBADF;
        _cleanup_(spawn_kill_and_reapp) pid_t pid = 0;
        int fds[2], e = 0;
        ssize_t n;
        int r;

        r = make_pipe(fds);
        if (r < 0)
                return r;
        err_r = fds[0];
        err_w = fds[1];

        pid = fork();
        if (pid < 0) {
                r = -errno;
                pid = 0;
                return r;
        }
        if (pid == 0)
                child_exec(c, err_w);

        /* whoever signals the group first must find it */
        (void)setpgid(pid, pid);

        close_fd(&err_w);

        /* EOF: execve() succeeded and closed the pipe; else the child's errno */
        do
                n = read(err_r, &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == sizeof(e)) {
                (void)spawn_reap(pid, NULL);
                pid = 0;
                return e > 0 ? -e : -EIO;
        }

        *ret_pid = pid;
        pid = 0;
        return 0;
}

int spawn_fork_as(const char *run_as, pid_t *ret_pid) {
        _cleanup_(credentials_done) Credentials creds = {};
        pid_t pid;
        int r;

        assert(ret_pid);

        if (run_as) {
                r = credentials_lookup(run_as, &creds);
                if (r < 0)
                        return r;
        }

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid > 0) {
                *ret_pid = pid;
                return 1;
        }

        if (credentials_apply(&creds) < 0)
                _exit(SPAWN_EXIT_CREDENTIALS);
        if (creds.drop) {
                if (setenv("HOME", creds.home, 1) < 0 || setenv("USER", creds.user, 1) < 0 ||
                    setenv("LOGNAME", creds.user, 1) < 0)
                        _exit(SPAWN_EXIT_CREDENTIALS);
                /* our working directory may be closed to the new user */
                if (chdir(creds.home) < 0)
                        (void)chdir("/");
        }
        return 0;
}

typedef struct Stream {
        int fd;
        int priority;
        bool capture;
        char *buf;
        size_t size, allocated;
        size_t forwarded; /* bytes put into the log so far */
} Stream;

static void stream_done(Stream *s) {
        if (s->fd >= 0)
                close(s->fd);
        s->fd = -EBADF;
        free(s->buf);
        s->buf = NULL;
}

typedef struct Forward {
        const char *identifier;
        const char *phase;
} Forward;

static void stream_emit(Stream *s, const Forward *f, bool eof) {
        size_t start = 0;

        if (s->capture || !s->buf)
                return;

        for (;;) {
                char *nl = memchr(s->buf + start, '\n', s->size - start);
                size_t l;

                if (nl)
                        l = (size_t)(nl - (s->buf + start));
                else if (s->size - start >= SPAWN_LINE_MAX || (eof && s->size > start))
                        l = s->size - start;
                else
                        break;

                /* a child that prints without end must not fill the journal: past the budget its
                 * lines are read and dropped, after one note */
                if (s->forwarded <= SPAWN_CAPTURE_MAX) {
                        /* the buffer always has room for a terminating NUL */
                        char saved = s->buf[start + l];
                        s->buf[start + l] = 0;
                        if (s->forwarded + l <= SPAWN_CAPTURE_MAX)
                                (void)log_forward(s->priority, f->identifier, f->phase, s->buf + start);
                        else
                                (void)log_forward(
                                        s->priority,
                                        f->identifier,
                                        f->phase,
                                        "(more than " SPAWN_STR(
                                                SPAWN_CAPTURE_MAX_MIB) " MiB of output: the "
                                                                       "rest is not logged)");
                        s->buf[start + l] = saved;
                        s->forwarded += l + 1;
                }

                start += l + (nl ? 1 : 0);
        }

        memmove(s->buf, s->buf + start, s->size - start);
        s->size -= start;
}

/* read what is there now; at EOF forward the rest and close. -errno only on a real error. */
static int stream_read(Stream *s, const Forward *f) {
        while (s->fd >= 0) {
                ssize_t n;

                if (s->allocated - s->size < SPAWN_READ_CHUNK + 1) {
                        size_t want = s->allocated * 2 > s->size + SPAWN_READ_CHUNK + 1
                                              ? s->allocated * 2
                                              : s->size + SPAWN_READ_CHUNK + 1;
                        char *nb = realloc(s->buf, want);
                        if (!nb)
                                return -ENOMEM;
                        s->buf = nb;
                        s->allocated = want;
                }

                n = read(s->fd, s->buf + s->size, s->allocated - s->size - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                if (n == 0) {
                        stream_emit(s, f, true);
                        close(s->fd);
                        s->fd = -EBADF;
                        return 0;
                }
                s->size += (size_t)n;
                /* the caller would hold all of it in memory */
                if (s->capture && s->size > SPAWN_CAPTURE_MAX)
                        return -EFBIG;
                stream_emit(s, f, false);
        }
        return 0;
}

/* write to a pipe whose reader may be gone without dying of SIGPIPE, and without touching the
 * process's SIGPIPE disposition: block it for the write and swallow the one we caused */
static ssize_t write_nosigpipe(int fd, const void *p, size_t n) {
        sigset_t pipe_set, old, pending;
        bool was_pending;
        ssize_t k;
        int saved;

        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigpending(&pending);
        was_pending = sigismember(&pending, SIGPIPE);

        pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
        k = write(fd, p, n);
        saved = errno;
        if (k < 0 && saved == EPIPE && !was_pending) {
                struct timespec zero = {};
                (void)sigtimedwait(&pipe_set, NULL, &zero);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);

        errno = saved;
        return k;
}

typedef struct Input {
        int fd;
        const char *data;
        size_t size, done;
} Input;

static int input_write(Input *in) {
        while (in->fd >= 0 && in->done < in->size) {
                ssize_t k = write_nosigpipe(in->fd, in->data + in->done, in->size - in->done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        if (errno != EPIPE)
                                return -errno;
                        break; /* the child stopped reading: its business */
                }
                in->done += (size_t)k;
        }
        close_fd(&in->fd);
        return 0;
}

static void input_done(Input *in) {
        close_fd(&in->fd);
}

static int ms_until(usec_t now, usec_t when) {
        usec_t d = when > now ? when - now : 0;
        usec_t ms = (d + 999) / 1000;

        return ms > 60 * 60 * 1000 ? 60 * 60 * 1000 : (int)ms;
}

static int min_timeout(int a, int b) {
        if (a < 0)
                return b;
        if (b < 0)
                return a;
        return a < b ? a : b;
}

/* 1 when the child is gone (*si filled), 0 when it still runs */
static int try_reap(pid_t pid, siginfo_t *si) {
        *si = (siginfo_t){};
        if (waitid(P_PID, (id_t)pid, si, WEXITED | WNOHANG) < 0)
                return errno == EINTR ? 0 : -errno;
        return si->si_pid == pid ? 1 : 0;
}

int spawn_run(char *const argv[], const SpawnOptions *opts, int *ret_status) {
        static const SpawnOptions no_options = {};
        _cleanup_(credentials_done) Credentials creds = {};
        _cleanup_strv_free_ char **own_env = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int in_r = -EBADF, null_fd = -EBADF, out_w = -EBADF, err_w = -EBADF, pidfd = -EBADF,
                            fd3 = -EBADF;
        _cleanup_(stream_done) Stream out = { .fd = -EBADF, .priority = LOG_INFO };
        _cleanup_(stream_done) Stream err = { .fd = -EBADF, .priority = LOG_WARNING };
        _cleanup_close_ int in_w = -EBADF;
        _cleanup_(spawn_kill_and_reapp) pid_t pid = 0;
        _cleanup_(input_done) Input in = { .fd = -EBADF };
        char *const *envp;
        const char *slash;
        usec_t deadline = 0, kill_at = 0;
        siginfo_t si = {};
        int reason = 0, status, fds[2], r;
        Forward fwd;
        ChildSetup cs;

        if (!argv || !argv[0])
                return -EINVAL;
        if (!opts)
                opts = &no_options;
        if (cancel_requested())
                return -ECANCELED;

        r = credentials_resolve(opts, &creds);
        if (r < 0)
                return r;

        envp = opts->env;
        if (!envp) {
                r = default_env(&creds, &own_env);
                if (r < 0)
                        return r;
                envp = own_env;
        }

        if (opts->exec_fd > 0) {
                /* the child's dup2()s onto 0-2 (and onto 3, for fd3) would replace it */
                if (opts->exec_fd <= STDERR_FILENO || opts->fd3 > 0)
                        return -EINVAL;
        } else {
                r = find_executable(argv[0], envp, &path);
                if (r < 0)
                        return r;
        }

        slash = strrchr(argv[0], '/');
        fwd = (Forward){
                .identifier = opts->log_identifier ?: (slash ? slash + 1 : argv[0]),
                .phase = opts->phase,
        };

        if ((opts->stdin_fd > 0 && opts->stdin_data) || (opts->stdout_fd > 0 && opts->ret_stdout) ||
            (opts->fd3 > 0 && opts->fd3 <= STDERR_FILENO))
                return -EINVAL;

        if (opts->fd3 > 0) {
                fd3 = fcntl(opts->fd3, F_DUPFD_CLOEXEC, 4);
                if (fd3 < 0)
                        return -errno;
        }

        /* stdin: the caller's fd, the data through a pipe, else /dev/null (never our own stdin) */
        if (opts->stdin_fd > 0) {
                /* the child's dup2() onto 0 reads the caller's fd */
        } else if (opts->stdin_data) {
                r = make_pipe(fds);
                if (r < 0)
                        return r;
                in_r = fds[0];
                in_w = fds[1];
                r = fd_nonblock(in_w);
                if (r < 0)
                        return r;
        } else {
                null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (null_fd < 0)
                        return -errno;
                r = fd_move_above_stdio(&null_fd);
                if (r < 0)
                        return r;
        }

        /* stdout: the caller's fd, else a pipe we capture or forward */
        if (opts->stdout_fd <= 0) {
                r = make_pipe(fds);
                if (r < 0)
                        return r;
                out.fd = fds[0];
                out_w = fds[1];
                out.capture = !!opts->ret_stdout;
                r = fd_nonblock(out.fd);
                if (r < 0)
                        return r;
        }

        r = make_pipe(fds);
        if (r < 0)
                return r;
        err.fd = fds[0];
        err_w = fds[1];

        r = fd_nonblock(err.fd);
        if (r < 0)
                return r;

        cs = (ChildSetup){
                .path = path,
                .argv = argv,
                .envp = envp,
                .cwd = opts->cwd ?: "/",
                .creds = &creds,
                .stdin_fd = opts->stdin_fd > 0 ? opts->stdin_fd : (in_r >= 0 ? in_r : null_fd),
                .stdout_fd = opts->stdout_fd > 0 ? opts->stdout_fd : out_w,
                .stderr_fd = err_w,
                .fd3 = fd3,
                .exec_fd = opts->exec_fd > 0 ? opts->exec_fd : -EBADF,
        };
        r = creds.drop || cs.exec_fd >= 0 ? start_fork_exec(&cs, &pid) : start_posix_spawn(&cs, &pid);
        if (r < 0)
                return r;

        /* only the child may hold the write ends, so EOF means it (and its children) closed them */
        close_fd(&in_r);
        close_fd(&null_fd);
        close_fd(&out_w);
        close_fd(&err_w);
        close_fd(&fd3);

        in = (Input){
                .fd = TAKE_FD(in_w),
                .data = opts->stdin_data,
                .size = opts->stdin_data ? strlen(opts->stdin_data) : 0,
        };

        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                pidfd = -EBADF; /* old kernel: look with WNOHANG instead */

        if (opts->timeout > 0 && opts->timeout != USEC_INFINITY)
                deadline = now_monotonic() + opts->timeout;

        for (;;) {
                Stream *streams[] = { &out, &err }, *ps[2];
                struct pollfd p[4];
                int np = 0, ns = 0, in_idx = -1, timeout_ms = -1;
                usec_t n = now_monotonic();

                if (reason == 0 && (cancel_requested() || (deadline > 0 && n >= deadline))) {
                        reason = cancel_requested() ? -ECANCELED : -ETIME;
                        kill_group(pid, SIGTERM);
                        kill_at = n + SPAWN_KILL_GRACE_USEC;
                }
                if (kill_at > 0 && n >= kill_at) {
                        kill_group(pid, SIGKILL);
                        kill_at = 0;
                }

                r = try_reap(pid, &si);
                if (r < 0)
                        return r;
                if (r > 0) {
                        pid = 0;
                        break;
                }

                for (size_t i = 0; i < ELEMENTSOF(streams); i++)
                        if (streams[i]->fd >= 0) {
                                ps[ns++] = streams[i];
                                p[np++] = (struct pollfd){ .fd = streams[i]->fd, .events = POLLIN };
                        }
                if (in.fd >= 0) {
                        in_idx = np;
                        p[np++] = (struct pollfd){ .fd = in.fd, .events = POLLOUT };
                }
                /* the pidfd's readiness is seen by try_reap() at the top */
                if (pidfd >= 0)
                        p[np++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
                else
                        timeout_ms = SPAWN_REAP_POLL_MSEC;

                if (reason == 0 && deadline > 0)
                        timeout_ms = min_timeout(timeout_ms, ms_until(n, deadline));
                if (kill_at > 0)
                        timeout_ms = min_timeout(timeout_ms, ms_until(n, kill_at));
                if (reason == 0 && cancel_flag)
                        timeout_ms = min_timeout(timeout_ms, SPAWN_CANCEL_POLL_MSEC);

                if (poll(p, (nfds_t)np, timeout_ms) < 0) {
                        if (errno == EINTR)
                                continue; /* perhaps the cancel signal: look at the flag */
                        return -errno;
                }

                for (int i = 0; i < ns; i++)
                        if (p[i].revents != 0) {
                                r = stream_read(ps[i], &fwd);
                                if (r < 0)
                                        return r;
                        }
                if (in_idx >= 0 && p[in_idx].revents != 0) {
                        r = input_write(&in);
                        if (r < 0)
                                return r;
                }
        }

        close_fd(&in.fd);

        /* the child is gone, so what it wrote is in the pipes; a grandchild that still holds them
         * open is not waited for */
        r = stream_read(&out, &fwd);
        if (r >= 0)
                r = stream_read(&err, &fwd);
        if (r < 0)
                return r;
        stream_emit(&err, &fwd, true);
        stream_emit(&out, &fwd, true);

        if (reason < 0)
                return reason;

        status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
        if (!ret_status && status != 0)
                return -EPROTO;

        if (opts->ret_stdout) {
                if (!out.buf) {
                        out.buf = strdup("");
                        if (!out.buf)
                                return -ENOMEM;
                } else
                        out.buf[out.size] = 0;
                *opts->ret_stdout = TAKE_PTR(out.buf);
        }

        if (ret_status)
                *ret_status = status;
        if (opts->ret_signal)
                *opts->ret_signal = si.si_code == CLD_EXITED ? 0 : si.si_status;
        return 0;
}
