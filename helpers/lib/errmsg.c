/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* errmsg.c: the optional context string a library call hands back with its -errno */
#define _GNU_SOURCE
#include <stdarg.h>

#include "errmsg.h"

int errmsg_set(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;
        char *s;

        if (!ret_error)
                return r;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);

        free(*ret_error);
        *ret_error = s;
        return r;
}
