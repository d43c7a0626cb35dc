/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-dlopen-util.c: a library opened on first use, its functions resolved all or none */
#include <check.h>
#include <string.h>

#include "dlopen-util.h"
#include "macro.h"
#include "pq-dl.h"

static typeof(strlen) *sym_strlen;
static typeof(strcmp) *sym_strcmp;
static typeof(strlen) *sym_no_such_function;

START_TEST(test_opens_and_resolves) {
        void *dl = NULL;
        const DlSym syms[] = { DLSYM_ARG(strlen), DLSYM_ARG(strcmp) };

        ck_assert_int_eq(dlopen_many(&dl, "libc.so.6", syms, ELEMENTSOF(syms), NULL), 0);
        ck_assert_ptr_nonnull(dl);
        ck_assert_uint_eq(sym_strlen("four"), 4);
        ck_assert_int_eq(sym_strcmp("a", "a"), 0);
        /* open already: nothing more is done */
        ck_assert_int_eq(dlopen_many(&dl, "libno-such-library.so.0", syms, ELEMENTSOF(syms), NULL), 0);
}
END_TEST

START_TEST(test_missing_library_named) {
        _cleanup_free_ char *e = NULL;
        void *dl = NULL;
        const DlSym syms[] = { DLSYM_ARG(strlen) };

        ck_assert_int_eq(dlopen_many(&dl, "libno-such-library.so.0", syms, 1, &e), -EOPNOTSUPP);
        ck_assert_ptr_null(dl);
        ck_assert_ptr_nonnull(strstr(e, "cannot open libno-such-library.so.0"));
}
END_TEST

START_TEST(test_missing_symbol_sets_none) {
        _cleanup_free_ char *e = NULL;
        void *dl = NULL;
        const DlSym syms[] = { { (void **)&sym_strcmp, "strcmp" }, DLSYM_ARG(no_such_function) };

        sym_strcmp = NULL;
        ck_assert_int_eq(dlopen_many(&dl, "libc.so.6", syms, ELEMENTSOF(syms), &e), -EOPNOTSUPP);
        ck_assert_ptr_null(dl);
        ck_assert_str_eq(e, "libc.so.6 has no function no_such_function");
        ck_assert_ptr_null(sym_strcmp);
}
END_TEST

START_TEST(test_libpq) {
        _cleanup_free_ char *e = NULL;

        ck_assert_int_eq(pq_dlopen(&e), 0);
        ck_assert_ptr_null(e);
        ck_assert_ptr_nonnull(sym_PQconninfoParse);
        ck_assert_int_eq(pq_dlopen(NULL), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("dlopen-util");
        TCase *tc = tcase_create("dlopen-util");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_opens_and_resolves);
        tcase_add_test(tc, test_missing_library_named);
        tcase_add_test(tc, test_missing_symbol_sets_none);
        tcase_add_test(tc, test_libpq);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
