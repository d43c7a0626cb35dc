/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* codebolt-upgrade-generator: the units of every deployment, from the configuration (docs/architecture.md,
 * "Units and names") */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <syslog.h>

#include "genunits.h"
#include "macro.h"
#include "paths.h"

#define IDENT "codebolt-upgrade-generator"

/* generators run before the journal: their messages go to the kernel log */
static int log_fd = -EBADF;

static void log_open(void) {
        const char *target = getenv("CODEBOLT_UPGRADE_LOG");

        if (target && streq(target, "stderr"))
                return;
        log_fd = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
}

static int log_msg(int priority, int error, const char *fmt, ...) _printf_(3, 4);
static int log_msg(int priority, int error, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL, *line = NULL;
        va_list ap;
        int r;

        errno = error < 0 ? -error : error;
        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return error < 0 ? error : -error;
        if (log_fd >= 0 &&
            asprintf(&line, "<%d>" IDENT "[%d]: %s\n", LOG_DAEMON | priority, (int)getpid(), msg) >= 0 &&
            write(log_fd, line, strlen(line)) >= 0)
                return error < 0 ? error : -error;
        fprintf(stderr, IDENT ": %s\n", msg);
        return error < 0 ? error : -error;
}

/* mkdir -p of path's parent directories below dir */
static int mkdir_parents(const char *dir, const char *path) {
        _cleanup_free_ char *p = NULL;

        if (asprintf(&p, "%s/%s", dir, path) < 0)
                return -ENOMEM;
        for (char *s = p + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        return 0;
}

static int write_one(int dir_fd, const char *dir, const GenFile *f) {
        _cleanup_close_ int fd = -EBADF;
        size_t n;
        int r;

        r = mkdir_parents(dir, f->path);
        if (r < 0)
                return r;
        if (f->symlink)
                return symlinkat(f->symlink, dir_fd, f->path) < 0 ? negative_errno() : 0;

        /* the output directory starts empty: a file already there is another generator's */
        fd = openat(dir_fd, f->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return negative_errno();
        n = strlen(f->content);
        for (size_t done = 0; done < n;) {
                ssize_t k = write(fd, f->content + done, n - done);

                if (k < 0)
                        return negative_errno();
                done += k;
        }
        return 0;
}

static int run(const char *dest, const char *dest_early, const char *dest_late) {
        _cleanup_(genunits_done) GenUnits u = {};
        _cleanup_close_ int dir_fd = -EBADF;
        int r;

        dir_fd = open(dest, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (dir_fd < 0)
                return log_msg(LOG_ERR, errno, "Failed to open the output directory %s: %m", dest);

        r = genunits_build(NULL, &u);
        if (r < 0)
                return log_msg(LOG_ERR, r, "Failed to compute the units: %m");

        STRV_FOREACH (w, u.warnings)
                log_msg(LOG_WARNING, 0, "%s", *w);
        /* one file that cannot be written costs that file, never the others */
        for (size_t i = 0; i < u.n_files; i++) {
                r = write_one(dir_fd, dest, &u.files[i]);
                if (r < 0)
                        log_msg(LOG_WARNING, r, "Failed to write %s/%s: %m", dest, u.files[i].path);
        }
        return 0;
}

int main(int argc, char *argv[]) {
        log_open();
        if (argc != 4) {
                log_msg(LOG_ERR, 0, "Usage: " IDENT " NORMAL-DIR EARLY-DIR LATE-DIR (systemd.generator(7))");
                return 1;
        }
        (void)umask(0022);
        return run(argv[1], argv[2], argv[3]) < 0 ? 1 : 0;
}
