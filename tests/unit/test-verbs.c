/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-verbs.c: verbs module: the table lookup, the argument counts, the default verb, the reasons */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>

#include "macro.h"
#include "verbs.h"

/* what the last verb run saw */
static int seen_argc;
static const char *seen_first, *seen_second;
static void *seen_userdata;

static int record(int argc, char *argv[], void *userdata) {
        seen_argc = argc;
        seen_first = argv[0];
        seen_second = argv[1];
        seen_userdata = userdata;
        return 42;
}

static int failing(int argc, char *argv[], void *userdata) {
        return -EIO;
}

static const Verb verbs[] = {
        { "status", 1, VERB_ANY, VERB_DEFAULT, record },
        { "pin", 2, 2, 0, record },
        { "hold", 1, 2, VERB_PROGRAM_FLAG(0), record },
        { "broken", 1, VERB_ANY, 0, failing },
        {},
};

static const Verb no_default[] = {
        { "pin", 2, 2, 0, record },
        {},
};

static void reset(void) {
        seen_argc = -1;
        seen_first = seen_second = NULL;
        seen_userdata = NULL;
}

START_TEST(test_find) {
        ck_assert_ptr_eq(verbs_find(verbs, "pin"), &verbs[1]);
        ck_assert_ptr_eq(verbs_find(verbs, "hold"), &verbs[2]);
        ck_assert_ptr_null(verbs_find(verbs, "pi"));
        ck_assert_ptr_null(verbs_find(verbs, "PIN"));
        ck_assert_ptr_null(verbs_find(verbs, ""));
        /* no name: the default verb */
        ck_assert_ptr_eq(verbs_find(verbs, NULL), &verbs[0]);
        ck_assert_ptr_null(verbs_find(no_default, NULL));
        ck_assert_uint_eq(verbs_find(verbs, "hold")->flags & VERB_PROGRAM_FLAG(0), VERB_PROGRAM_FLAG(0));
}
END_TEST

START_TEST(test_dispatch_runs) {
        char *argv[] = { (char *)"pin", (char *)"1.5.0", NULL };
        int userdata, result = 0;

        reset();
        ck_assert_int_eq(verbs_dispatch(verbs, 2, argv, &userdata, &result, NULL), 0);
        ck_assert_int_eq(result, 42);
        ck_assert_int_eq(seen_argc, 2);
        ck_assert_str_eq(seen_first, "pin");
        ck_assert_str_eq(seen_second, "1.5.0");
        ck_assert_ptr_eq(seen_userdata, &userdata);

        /* the verb's own failure is its result, not the dispatch's */
        char *broken[] = { (char *)"broken", NULL };
        ck_assert_int_eq(verbs_dispatch(verbs, 1, broken, NULL, &result, NULL), 0);
        ck_assert_int_eq(result, -EIO);
}
END_TEST

START_TEST(test_arg_counts) {
        char *pin0[] = { (char *)"pin", NULL };
        char *pin2[] = { (char *)"pin", (char *)"1", (char *)"2", NULL };
        char *hold1[] = { (char *)"hold", (char *)"why", NULL };
        char *status_many[] = { (char *)"status", (char *)"a", (char *)"b", (char *)"c", NULL };
        _cleanup_free_ char *error = NULL;
        int result = 7;

        reset();
        ck_assert_int_eq(verbs_dispatch(verbs, 1, pin0, NULL, &result, &error), -EINVAL);
        ck_assert_str_eq(error, "too few arguments for 'pin': it takes at least 1");
        ck_assert_int_eq(verbs_dispatch(verbs, 3, pin2, NULL, &result, &error), -E2BIG);
        ck_assert_str_eq(error, "too many arguments for 'pin': it takes at most 1");
        /* nothing ran, nothing was written */
        ck_assert_int_eq(seen_argc, -1);
        ck_assert_int_eq(result, 7);

        /* between min and max, and VERB_ANY */
        ck_assert_int_eq(verbs_dispatch(verbs, 2, hold1, NULL, &result, NULL), 0);
        ck_assert_int_eq(seen_argc, 2);
        ck_assert_int_eq(verbs_dispatch(verbs, 4, status_many, NULL, &result, NULL), 0);
        ck_assert_int_eq(seen_argc, 4);
}
END_TEST

START_TEST(test_unknown) {
        char *argv[] = { (char *)"frobnicate", NULL };
        _cleanup_free_ char *error = NULL;
        int result = 7;

        reset();
        ck_assert_int_eq(verbs_dispatch(verbs, 1, argv, NULL, &result, &error), -ENOENT);
        ck_assert_str_eq(error, "unknown command 'frobnicate'");
        ck_assert_int_eq(result, 7);
        ck_assert_int_eq(seen_argc, -1);
        /* the reason is optional */
        ck_assert_int_eq(verbs_dispatch(verbs, 1, argv, NULL, &result, NULL), -ENOENT);
}
END_TEST

START_TEST(test_default) {
        char *argv[] = { NULL };
        _cleanup_free_ char *error = NULL;
        int result = 0;

        /* no verb given: the default one runs, named in argv[0] */
        reset();
        ck_assert_int_eq(verbs_dispatch(verbs, 0, argv, NULL, &result, NULL), 0);
        ck_assert_int_eq(result, 42);
        ck_assert_int_eq(seen_argc, 1);
        ck_assert_str_eq(seen_first, "status");
        ck_assert_ptr_null(seen_second);

        /* and without a default verb */
        reset();
        ck_assert_int_eq(verbs_dispatch(no_default, 0, argv, NULL, &result, &error), -EDESTADDRREQ);
        ck_assert_str_eq(error, "a command is required");
        ck_assert_int_eq(seen_argc, -1);
}
END_TEST

static Suite *verbs_suite(void) {
        Suite *s = suite_create("verbs");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_find);
        tcase_add_test(tc, test_dispatch_runs);
        tcase_add_test(tc, test_arg_counts);
        tcase_add_test(tc, test_unknown);
        tcase_add_test(tc, test_default);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(verbs_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
