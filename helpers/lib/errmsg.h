/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* errmsg.h: the optional context string a library call hands back with its -errno */
#pragma once

#include "macro.h"

/* Replace *ret_error (when ret_error is not NULL) with the formatted text; returns r unchanged, so
 * "return errmsg_set(ret_error, -EIO, "…", …);" reads as one step. */
int errmsg_set(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
