/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* background.h: work done in a child of the helper while the helper does another part of its phase, so
 * that the machine's second core takes a share (docs/architecture.md, "What the downtime is made of").
 * The child logs its own failure; its exit status says whether the work was done. */
#pragma once

#include <sys/types.h>

typedef struct Background {
        pid_t pid; /* 0: none running */
        const char *what;
} Background;

/* fork a child that runs work(userdata) and exits with its outcome; it gets SIGTERM if the helper ends
 * first. what names the work in messages ("copy of the stores"), and must outlive the child. */
int background_begin(Background *b, const char *what, int (*work)(void *userdata), void *userdata);

/* wait for the child: 0 when it did its work; -EPROTO when it failed (it said why); other -errno when it
 * could not be waited for or was killed (logged) */
int background_end(Background *b);

/* on a way out before background_end(): SIGTERM, which the child takes as the helper does (it stops the
 * program it runs, which leads a process group of its own), then the wait; takes a Background with none
 * running */
void background_done(Background *b);
