/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dlopen-util.h: a shared library opened where it is first used, not mapped by every program at start */
#pragma once

#include <stddef.h>

/* sym_<name>: the library's function <name>, set once the library is opened */
#define DLSYM_PROTOTYPE(name) extern typeof(name) *sym_##name
#define DLSYM_DEFINE(name) typeof(name) *sym_##name = NULL

typedef struct DlSym {
        void **fn;
        const char *name;
} DlSym;

#define DLSYM_ARG(name) \
        { (void **)&sym_##name, #name }

/* Open soname and resolve every symbol of syms, unless *handle says it is open already. 0 on success; on
 * failure -EOPNOTSUPP, with *ret_error (when not NULL) saying which library or symbol is missing, and no
 * symbol set. Not for use from several threads at once. */
int dlopen_many(void **handle, const char *soname, const DlSym *syms, size_t n, char **ret_error);
