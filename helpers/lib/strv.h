/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* strv.h: NULL-terminated string vectors (strv_free(), _cleanup_strv_free_ and STRV_FOREACH are in
 * macro.h, beside the other cleanup helpers) */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* the number of strings in l (NULL: 0) */
size_t strv_length(char *const *l);

/* whether l (may be NULL) holds a string equal to s; a NULL s is in no vector */
bool strv_contains(char *const *l, const char *s);

/* append a copy of s to *l (NULL: an empty vector), keeping it NULL-terminated; 0 or -ENOMEM, which
 * leaves *l as it was */
int strv_push(char ***l, const char *s);

/* the strings of l (may be NULL or empty: "") joined by sep, malloc'd; NULL on OOM */
char *strv_join(char *const *l, const char *sep);

/* sort the first n strings of l by strcmp() */
void strv_sort(char **l, size_t n);
