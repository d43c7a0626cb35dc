/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-time-util.c: usec_t units, the clocks in usec, sleeping until a monotonic time */
#include <check.h>

#include "macro.h"
#include "test-run.h"
#include "time-util.h"

START_TEST(test_units) {
        ck_assert_uint_eq(USEC_PER_MSEC, 1000);
        ck_assert_uint_eq(USEC_PER_SEC, 1000000);
        ck_assert_uint_eq(USEC_PER_MINUTE, 60 * USEC_PER_SEC);
        ck_assert_uint_eq(USEC_PER_HOUR, 3600 * USEC_PER_SEC);
        ck_assert_uint_eq(USEC_PER_DAY, 86400 * USEC_PER_SEC);
        ck_assert_uint_eq(USEC_PER_WEEK, 7 * USEC_PER_DAY);
        ck_assert_uint_eq(USEC_INFINITY, UINT64_MAX);
}
END_TEST

START_TEST(test_arithmetic) {
        ck_assert_uint_eq(usec_sub_floor(5, 3), 2);
        /* a clock read twice may step back: never a wrap-around */
        ck_assert_uint_eq(usec_sub_floor(3, 5), 0);
        ck_assert_uint_eq(usec_sub_floor(3, 3), 0);
        ck_assert_uint_eq(usec_add(USEC_INFINITY - 1, 5), USEC_INFINITY);
        ck_assert_uint_eq(usec_min(USEC_INFINITY, 7), 7);
}
END_TEST

START_TEST(test_timespec_roundtrip) {
        struct timespec ts = { .tv_sec = 12, .tv_nsec = 345678999 }, back;

        /* nanoseconds round down */
        ck_assert_uint_eq(timespec_load(&ts), 12345678);
        back = timespec_store(12345678);
        ck_assert_int_eq(back.tv_sec, 12);
        ck_assert_int_eq(back.tv_nsec, 345678000);
}
END_TEST

START_TEST(test_clocks) {
        struct timespec ts;
        usec_t a, b;

        a = now_monotonic();
        b = now_monotonic();
        ck_assert_uint_le(a, b);
        ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
        a = now_realtime();
        /* the same clock a moment later, so within a minute of it */
        ck_assert_uint_ge(a, timespec_load(&ts));
        ck_assert_uint_lt(a - timespec_load(&ts), USEC_PER_MINUTE);
}
END_TEST

START_TEST(test_sleep_until) {
        usec_t start = now_monotonic(), end;

        sleep_until(start + 50 * USEC_PER_MSEC);
        end = now_monotonic();
        ck_assert_uint_ge(end - start, 50 * USEC_PER_MSEC);
        ck_assert_uint_lt(end - start, 10 * USEC_PER_SEC);

        /* a time already past returns at once */
        start = now_monotonic();
        sleep_until(start > USEC_PER_SEC ? start - USEC_PER_SEC : 0);
        ck_assert_uint_lt(now_monotonic() - start, 10 * USEC_PER_SEC);
}
END_TEST

int main(void) {
        Suite *s = suite_create("time-util");
        TCase *tc = tcase_create("time-util");

        tcase_add_test(tc, test_units);
        tcase_add_test(tc, test_arithmetic);
        tcase_add_test(tc, test_timespec_roundtrip);
        tcase_add_test(tc, test_clocks);
        tcase_add_test(tc, test_sleep_until);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
