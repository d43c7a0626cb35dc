/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-run.h: run one Check suite and map its result to the exit code meson reads */
#pragma once

#include <check.h>
#include <stdlib.h>

static inline int run_suite(Suite *s) {
        SRunner *sr = srunner_create(s);
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
