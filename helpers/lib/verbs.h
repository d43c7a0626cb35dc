/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* verbs.h: a command's verb table and its dispatch, in the shape of systemd's src/shared/verbs.c */
#pragma once

#include <limits.h>

#include "macro.h"

/* as min_args or max_args: no limit */
#define VERB_ANY UINT_MAX

typedef enum VerbFlags {
        VERB_DEFAULT = 1 << 0, /* runs when no verb is given */
} VerbFlags;

/* the bits of Verb.flags from here up are the program's own: the dispatch ignores them */
#define VERB_PROGRAM_FLAG(n) (1u << (16 + (n)))

typedef struct Verb {
        const char *name;
        unsigned min_args, max_args; /* counting the verb itself, as argc does */
        unsigned flags;              /* VerbFlags, and VERB_PROGRAM_FLAG()s */
        int (*dispatch)(int argc, char *argv[], void *userdata);
} Verb;

/* The entry of verbs (which ends with an entry whose name is NULL) named name, or the VERB_DEFAULT one
 * when name is NULL; NULL when there is none. */
const Verb *verbs_find(const Verb verbs[], const char *name);

/* Runs the verb argv[0] names (the VERB_DEFAULT one when argc is 0) with argc, argv and userdata, and
 * returns 0 with what it returned in *ret_result. When no verb runs, returns -ENOENT (no verb of that
 * name), -EDESTADDRREQ (no verb given, and no default), -EINVAL (too few arguments) or -E2BIG (too many)
 * with the reason in *ret_error (errmsg.h; ret_error may be NULL), for the caller's one log line. */
int verbs_dispatch(
        const Verb verbs[], int argc, char *argv[], void *userdata, int *ret_result, char **ret_error);
