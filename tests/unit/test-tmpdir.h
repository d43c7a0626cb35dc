/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-tmpdir.h: removing a test's scratch directory tree */
#pragma once

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "macro.h"

static int tmpdir_rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw) {
        return remove(p) < 0 ? -1 : 0;
}

/* rm -rf, never following a symlink */
static inline void rm_rf(const char *dir) {
        (void)nftw(dir, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* the test's directory goes away with it */
static inline void rm_rf_freep(char **dir) {
        if (*dir)
                rm_rf(*dir);
        free(*dir);
}
#define _cleanup_rm_rf_ _cleanup_(rm_rf_freep)
