/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* verbs.c: a command's verb table and its dispatch, in the shape of systemd's src/shared/verbs.c */
#include <assert.h>
#include <errno.h>

#include "errmsg.h"
#include "verbs.h"

const Verb *verbs_find(const Verb verbs[], const char *name) {
        assert(verbs);

        for (const Verb *v = verbs; v->name; v++)
                if (name ? streq(v->name, name) : (v->flags & VERB_DEFAULT))
                        return v;
        return NULL;
}

int verbs_dispatch(
        const Verb verbs[], int argc, char *argv[], void *userdata, int *ret_result, char **ret_error) {
        const char *name = argc > 0 ? argv[0] : NULL;
        const Verb *verb;
        unsigned n;

        assert(verbs);
        assert(argc >= 0);
        assert(ret_result);

        verb = verbs_find(verbs, name);
        if (!verb)
                return name ? errmsg_set(ret_error, -ENOENT, "unknown command '%s'", name)
                            : errmsg_set(ret_error, -EDESTADDRREQ, "a command is required");

        /* the default verb, run without one given, counts as if it were named */
        n = argc > 0 ? (unsigned)argc : 1;
        if (verb->min_args != VERB_ANY && n < verb->min_args)
                return errmsg_set(
                        ret_error,
                        -EINVAL,
                        "too few arguments for '%s': it takes at least %u",
                        verb->name,
                        verb->min_args - 1);
        if (verb->max_args != VERB_ANY && n > verb->max_args)
                return errmsg_set(
                        ret_error,
                        -E2BIG,
                        "too many arguments for '%s': it takes at most %u",
                        verb->name,
                        verb->max_args - 1);

        if (argc > 0)
                *ret_result = verb->dispatch(argc, argv, userdata);
        else {
                /* argv as the verb expects it: its name first, then the NULL that ends it */
                char *default_argv[] = { (char *)verb->name, NULL };
                *ret_result = verb->dispatch(1, default_argv, userdata);
        }
        return 0;
}
