/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* string-util.c: a formatted string in one call */
#define _GNU_SOURCE
#include <stdio.h>

#include "string-util.h"

char *strvprintf(const char *fmt, va_list ap) {
        char *s;

        return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

char *strprintf(const char *fmt, ...) {
        va_list ap;
        char *s;

        va_start(ap, fmt);
        s = strvprintf(fmt, ap);
        va_end(ap);
        return s;
}
