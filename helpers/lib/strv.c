/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* strv.c: NULL-terminated string vectors */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

size_t strv_length(char *const *l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

bool strv_contains(char *const *l, const char *s) {
        for (; s && l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

int strv_push(char ***l, const char *s) {
        size_t n = strv_length(*l);
        _cleanup_free_ char *copy = strdup(s);
        char **grown;

        if (!copy)
                return -ENOMEM;
        grown = realloc(*l, (n + 2) * sizeof(char *));
        if (!grown)
                return -ENOMEM;
        grown[n] = TAKE_PTR(copy);
        grown[n + 1] = NULL;
        *l = grown;
        return 0;
}

char *strv_join(char *const *l, const char *sep) {
        size_t len = 1, seplen = strlen(sep), n = 0;
        char *s, *p;

        for (size_t i = 0; l && l[i]; i++, n++)
                len += strlen(l[i]) + (i > 0 ? seplen : 0);
        s = p = malloc(len);
        if (!s)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        p = stpcpy(p, sep);
                p = stpcpy(p, l[i]);
        }
        *p = 0;
        return s;
}

static int strv_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

void strv_sort(char **l, size_t n) {
        if (n > 1)
                qsort(l, n, sizeof(char *), strv_cmp);
}
