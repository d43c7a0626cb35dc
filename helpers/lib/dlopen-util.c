/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dlopen-util.c: open a library on first use and resolve its functions; libpq, libcurl and their own
 * dependencies (OpenSSL, GnuTLS, Kerberos, LDAP) are most of a helper's memory and start-up time when
 * linked, and most helpers or most of their runs never call them (docs/architecture.md) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>

#include "dlopen-util.h"
#include "errmsg.h"

int dlopen_many(void **handle, const char *soname, const DlSym *syms, size_t n, char **ret_error) {
        void *dl;

        if (*handle)
                return 0;

        dl = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        if (!dl)
                return errmsg_set(ret_error, -EOPNOTSUPP, "cannot open %s: %s", soname, dlerror());
        for (size_t i = 0; i < n; i++) {
                void *fn = dlsym(dl, syms[i].name);

                if (!fn) {
                        for (size_t j = 0; j < i; j++)
                                *syms[j].fn = NULL;
                        (void)errmsg_set(
                                ret_error, -EOPNOTSUPP, "%s has no function %s", soname, syms[i].name);
                        (void)dlclose(dl);
                        return -EOPNOTSUPP;
                }
                *syms[i].fn = fn;
        }
        *handle = dl;
        return 0;
}
