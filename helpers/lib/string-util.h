/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* string-util.h: a formatted string in one call, where vasprintf() would take its five lines */
#pragma once

#include <stdarg.h>

#include "macro.h"

/* the formatted text, malloc'd; NULL on OOM */
char *strprintf(const char *fmt, ...) _printf_(1, 2);

/* strprintf() of a va_list (ap is used up) */
char *strvprintf(const char *fmt, va_list ap) _printf_(1, 0);
