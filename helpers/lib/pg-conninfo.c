/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pg-conninfo.c: see pg-conninfo.h */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pg-conninfo.h"
#include "pq-dl.h"

int pg_conninfo_find_secret(const char *conninfo, char **ret_keyword) {
        _cleanup_conninfo_ PQconninfoOption *opts = NULL;
        _cleanup_pqfree_ char *err = NULL;
        int r;

        assert(conninfo);
        assert(ret_keyword);

        r = pq_dlopen(NULL);
        if (r < 0)
                return r;
        opts = sym_PQconninfoParse(conninfo, &err);
        if (!opts)
                return err ? -EINVAL : -ENOMEM;
        for (const PQconninfoOption *o = opts; o->keyword; o++)
                if (o->val && o->dispchar && strchr(o->dispchar, '*')) {
                        *ret_keyword = strdup(o->keyword);
                        return *ret_keyword ? 1 : -ENOMEM;
                }
        return 0;
}
