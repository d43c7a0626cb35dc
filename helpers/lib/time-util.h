/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* time-util.h: microsecond times (usec_t), their units, and reading and sleeping on the clocks */
#pragma once

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t)UINT64_MAX)
#define NSEC_PER_USEC ((uint64_t)1000ULL)
#define USEC_PER_MSEC ((usec_t)1000ULL)
#define USEC_PER_SEC ((usec_t)1000000ULL)
#define USEC_PER_MINUTE (60ULL * USEC_PER_SEC)
#define USEC_PER_HOUR (60ULL * USEC_PER_MINUTE)
#define USEC_PER_DAY (24ULL * USEC_PER_HOUR)
#define USEC_PER_WEEK (7ULL * USEC_PER_DAY)
#define USEC_PER_MONTH (2629800ULL * USEC_PER_SEC) /* 30.44 days, as systemd */
#define USEC_PER_YEAR (31557600ULL * USEC_PER_SEC) /* 365.25 days, as systemd */

/* a timespec as usec (nanoseconds rounded down) */
static inline usec_t timespec_load(const struct timespec *ts) {
        return (usec_t)ts->tv_sec * USEC_PER_SEC + (usec_t)ts->tv_nsec / NSEC_PER_USEC;
}

/* usec as a timespec */
static inline struct timespec timespec_store(usec_t u) {
        return (struct timespec){
                .tv_sec = (time_t)(u / USEC_PER_SEC),
                .tv_nsec = (long)(u % USEC_PER_SEC) * (long)NSEC_PER_USEC,
        };
}

/* the time of clock (CLOCK_MONOTONIC, CLOCK_REALTIME …) in usec */
static inline usec_t clock_usec(clockid_t clock) {
        struct timespec ts;

        /* cannot fail for a valid clock and timespec */
        (void)clock_gettime(clock, &ts);
        return timespec_load(&ts);
}

/* the earlier of two times (USEC_INFINITY: none) */
static inline usec_t usec_min(usec_t a, usec_t b) {
        return a < b ? a : b;
}

/* a + b, USEC_INFINITY when either is or the sum would pass it */
static inline usec_t usec_add(usec_t a, usec_t b) {
        return a == USEC_INFINITY || b == USEC_INFINITY || a > USEC_INFINITY - 1 - b ? USEC_INFINITY : a + b;
}

/* a - b, 0 when b is later (two readings of a clock that may step back) */
static inline usec_t usec_sub_floor(usec_t a, usec_t b) {
        return a > b ? a - b : 0;
}

/* CLOCK_MONOTONIC in usec, what every deadline is measured on */
static inline usec_t now_monotonic(void) {
        return clock_usec(CLOCK_MONOTONIC);
}

/* CLOCK_REALTIME in usec, what the journal and the ledger record */
static inline usec_t now_realtime(void) {
        return clock_usec(CLOCK_REALTIME);
}

/* Sleep until the CLOCK_MONOTONIC time until (usec); a signal cuts it short, so a caller that handles
 * SIGTERM checks its flag before and after. */
static inline void sleep_until(usec_t until) {
        struct timespec ts = timespec_store(until);

        (void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}
