/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-root.h: a Check suite run under a throwaway $CODEBOLT_UPGRADE_ROOT, for the modules whose
 * paths are rooted there (set before the first path is computed: paths_root() caches it) */
#pragma once

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test-util.h"

/* the root of the whole run; each test uses a deployment or a path of its own below it */
static char *root = NULL;

static inline int run_suite_in_root(Suite *s, const char *name) {
        SRunner *sr;
        int failed;

        if (asprintf(&root, "/var/tmp/%s.XXXXXX", name) < 0 || !mkdtemp(root))
                return EXIT_FAILURE;
        setenv("CODEBOLT_UPGRADE_ROOT", root, 1);

        sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        rm_rf(root);
        free(root);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
