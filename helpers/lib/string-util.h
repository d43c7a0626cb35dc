/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* string-util.h: a formatted string in one call, where vasprintf() would take its five lines */
#pragma once

#include <stdarg.h>

#include "macro.h"

/* the formatted text, malloc'd; NULL on OOM */
char *strprintf(const char *fmt, ...) _printf_(1, 2);

/* strprintf() of a va_list (ap is used up) */
char *strvprintf(const char *fmt, va_list ap) _printf_(1, 0);

/* In a function whose last named parameter is fmt: its own variadic arguments formatted by fmt, as
 * strvprintf() of them (a statement expression: va_start() must run in that function); NULL on OOM */
#define STRPRINTF_ARGS(fmt)                  \
        ({                                   \
                va_list _ap_;                \
                char *_s_;                   \
                va_start(_ap_, fmt);         \
                _s_ = strvprintf(fmt, _ap_); \
                va_end(_ap_);                \
                _s_;                         \
        })
