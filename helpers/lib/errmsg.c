/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* errmsg.c: the optional context string a library call hands back with its -errno */
#define _GNU_SOURCE
#include <stdarg.h>

#include "errmsg.h"
#include "string-util.h"

int errmsg_set(char **ret_error, int r, const char *fmt, ...) {
        char *s;

        if (!ret_error)
                return r;

        s = STRPRINTF_ARGS(fmt);
        free(*ret_error);
        *ret_error = s;
        return r;
}
