/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-pg-conninfo.c: which [Database] Connection= strings carry a secret, by libpq's own option table */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "macro.h"
#include "pg-conninfo.h"

START_TEST(test_find_secret) {
        static const struct {
                const char *conninfo;
                int r;
                const char *keyword;
        } cases[] = {
                { "host=db port=5432 dbname=codebolt", 0, NULL },
                { "host=db password=hunter2", 1, "password" },
                { "host=db sslpassword=x sslmode=verify-full", 1, "sslpassword" },
                { "postgresql://codebolt:hunter2@db:5432/codebolt", 1, "password" },
                { "postgresql://codebolt@db/codebolt?sslmode=require", 0, NULL },
                { "postgresql://db/codebolt?password=x", 1, "password" },
                { "", 0, NULL },
                { "host=db nosuchoption=1", -EINVAL, NULL },
                { "host='unterminated", -EINVAL, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *keyword = NULL;
                int r = pg_conninfo_find_secret(cases[i].conninfo, &keyword);

                ck_assert_msg(r == cases[i].r, "%s: %d", cases[i].conninfo, r);
                if (cases[i].keyword)
                        ck_assert_str_eq(keyword, cases[i].keyword);
                else
                        ck_assert_ptr_null(keyword);
        }
}
END_TEST

static Suite *pg_conninfo_suite(void) {
        Suite *s = suite_create("pg-conninfo");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_find_secret);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(pg_conninfo_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
