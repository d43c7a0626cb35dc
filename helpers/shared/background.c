/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* background.c: see background.h */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "background.h"
#include "log.h"
#include "spawn.h"

void background_done(Background *b) {
        if (b->pid <= 0)
                return;
        (void)kill(b->pid, SIGTERM);
        (void)spawn_reap(b->pid, NULL);
        b->pid = 0;
}

int background_begin(Background *b, const char *what, int (*work)(void *userdata), void *userdata) {
        pid_t parent = getpid(), pid;

        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork for the %s: %m", what);
        if (pid == 0) {
                /* it ends with the helper, whatever ends that */
                if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                        _exit(EXIT_FAILURE);
                _exit(work(userdata) < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
        }
        b->pid = pid;
        b->what = what;
        return 0;
}

int background_end(Background *b) {
        int status = 0, r;

        r = spawn_reap(b->pid, &status);
        b->pid = 0;
        if (r < 0)
                return log_error_errno(r, "Failed to wait for the %s: %m", b->what);
        if (WIFSIGNALED(status))
                return log_error_errno(EIO, "The %s was killed by signal %d.", b->what, WTERMSIG(status));
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPROTO;
}
