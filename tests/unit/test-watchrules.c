/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-watchrules.c: watchrules module: the verdicts of the post-upgrade watch on recorded series */
#define _GNU_SOURCE
#include <check.h>
#include <float.h>
#include <math.h>

#include "macro.h"
#include "watchrules.h"

#define SEC USEC_PER_SEC
#define MINUTE (60 * SEC)
#define HOUR (60 * MINUTE)
#define MIB ((uint64_t)1024 * 1024)

/* ---- recorded series, built from a fixed seed so every run sees the same numbers ---- */

static uint64_t rng;

static uint64_t rng_next(void) { /* splitmix64 */
        uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static double uniform(void) {
        return (double)(rng_next() >> 11) * 0x1.0p-53;
}

static uint64_t poisson(double mean) { /* Knuth's; the means here are small */
        double l = exp(-mean), p = 1;
        uint64_t k = 0;

        do {
                k++;
                p *= uniform();
        } while (p > l);
        return k - 1;
}

/* what a version that behaves like its baseline looks like */
typedef struct Healthy {
        usec_t interval;
        double errors_per_min;
        unsigned runs_per_interval;
        double success; /* each run's chance */
        double lag_max; /* jitter in [0, lag_max) */
        double memory;  /* bytes, with noise */
        double noise;   /* ± this fraction */
} Healthy;

/* sample i is taken at the end of the i-th interval: (i + 1) * interval */
static WatchSample *healthy_series(size_t n, const Healthy *h, uint64_t seed) {
        WatchSample *s = calloc(n, sizeof(WatchSample));
        uint64_t errors = 0, ok = 0, failed = 0;

        ck_assert_ptr_nonnull(s);
        rng = seed;
        for (size_t i = 0; i < n; i++) {
                errors += poisson(h->errors_per_min * (double)h->interval / MINUTE);
                for (unsigned r = 0; r < h->runs_per_interval; r++)
                        if (uniform() < h->success)
                                ok++;
                        else
                                failed++;
                s[i] = (WatchSample){
                        .usec = (i + 1) * h->interval,
                        .errors = errors,
                        .runs_succeeded = ok,
                        .runs_failed = failed,
                        .lag = uniform() * h->lag_max,
                        .memory = (uint64_t)(h->memory * (1 + h->noise * (2 * uniform() - 1))),
                };
        }
        return s;
}

/* production: Interval=5min, 60 errors in the baseline hour, 98 % of runs succeed, lag < 30 s, 500 MiB */
static const Healthy prod = {
        .interval = 5 * MINUTE,
        .errors_per_min = 1,
        .runs_per_interval = 10,
        .success = 0.98,
        .lag_max = 30,
        .memory = 500.0 * MIB,
        .noise = 0.02,
};
static const WatchBaseline prod_baseline = {
        .errors = 60,
        .window = HOUR,
        .runs_succeeded = 980,
        .runs_failed = 20,
        .lag = 25,
        .memory_max = 510 * MIB,
};

/* the integration test: Interval=10s, Period=3min, a quiet stand-in of ~45 MiB */
static const Healthy itest = {
        .interval = 10 * SEC,
        .errors_per_min = 0,
        .runs_per_interval = 1,
        .success = 1,
        .lag_max = 2,
        .memory = 45.0 * MIB,
        .noise = 0.02,
};
static const WatchBaseline itest_baseline = {
        .errors = 0,
        .window = HOUR,
        .runs_succeeded = 40,
        .runs_failed = 0,
        .lag = 1,
        .memory_max = 48 * MIB,
};

static WatchParams params(void) {
        WatchParams p;

        watchrules_params_default(&p);
        return p;
}

static int evaluate(const WatchBaseline *b, const WatchSample *s, size_t n, WatchVerdicts *ret) {
        WatchParams p = params();
        return watchrules_evaluate(b, s, n, &p, ret);
}

static void assert_all_ok(const WatchVerdicts *v) {
        for (size_t i = 0; i < _WATCH_SIGNAL_MAX; i++)
                ck_assert_msg(
                        v->signal[i].state == WATCH_OK,
                        "%s is %s (since sample %zu, value %g, p %g)",
                        watch_signal_to_string(i),
                        watch_state_to_string(v->signal[i].state),
                        v->signal[i].since,
                        v->signal[i].value,
                        v->signal[i].p);
        ck_assert_int_eq(watchrules_overall(v), WATCH_OK);
}

static void assert_degraded(const WatchVerdicts *v, WatchSignal sig, size_t since) {
        const WatchVerdict *s = &v->signal[sig];

        ck_assert_msg(
                s->state == WATCH_DEGRADED && s->since == since,
                "%s: %s since %zu, expected degraded since %zu",
                watch_signal_to_string(sig),
                watch_state_to_string(s->state),
                s->since,
                since);
        ck_assert_int_eq(watchrules_overall(v), WATCH_DEGRADED);
}

static void assert_only(const WatchVerdicts *v, WatchSignal sig) {
        for (size_t i = 0; i < _WATCH_SIGNAL_MAX; i++)
                if (i != sig)
                        ck_assert_msg(
                                v->signal[i].state == WATCH_OK,
                                "%s is %s",
                                watch_signal_to_string(i),
                                watch_state_to_string(v->signal[i].state));
}

/* the watch runs every Interval= on what it has so far: each prefix must agree with the whole series */
static void assert_prefixes(const WatchBaseline *b, const WatchSample *s, size_t n) {
        WatchVerdicts full, part;

        ck_assert_int_ge(evaluate(b, s, n, &full), 0);
        for (size_t m = 1; m <= n; m++) {
                ck_assert_int_ge(evaluate(b, s, m, &part), 0);
                for (size_t i = 0; i < _WATCH_SIGNAL_MAX; i++) {
                        const WatchVerdict *f = &full.signal[i], *p = &part.signal[i];

                        if (f->state == WATCH_DEGRADED && f->since < m) {
                                ck_assert_int_eq(p->state, WATCH_DEGRADED);
                                ck_assert_uint_eq(p->since, f->since);
                                ck_assert_uint_eq(p->since_usec, f->since_usec);
                        } else
                                ck_assert_msg(
                                        p->state != WATCH_DEGRADED,
                                        "%s degraded on %zu samples, not on all %zu",
                                        watch_signal_to_string(i),
                                        m,
                                        n);
                }
        }
}

static void assert_rel(double got, double want, double rel) {
        ck_assert_msg(
                fabs(got - want) <= rel * fabs(want), "got %.17g, want %.17g (relative %g)", got, want, rel);
}

/* ---- the building blocks, against values computed independently (mpmath, exact sums) ---- */

START_TEST(test_binomial_tail) {
        static const struct {
                uint64_t k, n;
                double p, want;
        } cases[] = {
                { 3, 10, 0.5, 0.9453125 },
                { 8, 10, 0.5, 0.0546875 },
                { 13, 20, 0.5, 0.13158798217773438 },
                { 3, 5, 0.12, 0.0143188992 },
                { 2, 2, 30.0 / 3630, 6.8301345536507073e-5 },
                { 30, 30, 180.0 / 3780, 2.1548704119013416e-40 },
                { 600, 1000, 0.5, 1.3642320780330092e-10 },
                { 100, 100, 0.01, 1.0000000000000021e-200 },
                { 1, 1000000, 1e-9, 0.00099950016712450864 },
                { 120, 1000000, 0.0001, 0.028224054430942128 },
                { 3950, 100000, 0.04, 0.79220965590374337 },
                { 5000, 100000, 0.04, 8.2553454284133625e-55 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                assert_rel(
                        watchrules_binomial_tail(cases[i].k, cases[i].n, cases[i].p), cases[i].want, 1e-9);
        ck_assert(watchrules_binomial_tail(0, 5, 0.3) == 1);
        ck_assert(watchrules_binomial_tail(6, 5, 0.3) == 0);
        ck_assert(watchrules_binomial_tail(1, 5, 0) == 0);
        ck_assert(watchrules_binomial_tail(5, 5, 1) == 1);
}
END_TEST

START_TEST(test_t_tail) {
        static const struct {
                double t, df, want;
        } cases[] = {
                { 0, 5, 0.5 },
                { 1, 1, 0.25 },
                { -1, 1, 0.75 },
                { 6.964557, 2, 0.0099999992596848209 },
                { 22.327, 2, 0.0010000111431363344 },
                { 10, 3, 0.001064199529207075 },
                { 2.228139, 10, 0.024999993726441281 },
                { -2.5, 7, 0.97950389070712355 },
                { 3, 1000, 0.0013833545221190962 },
                { 1.5, 17277, 0.06681633756290367 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                assert_rel(watchrules_t_tail(cases[i].t, cases[i].df), cases[i].want, 1e-8);
        ck_assert(watchrules_t_tail(INFINITY, 3) == 0);
        ck_assert(watchrules_t_tail(-INFINITY, 3) == 1);
        ck_assert(isnan(watchrules_t_tail(1, 0)));
}
END_TEST

START_TEST(test_least_squares) {
        const double x[] = { 0, 1, 2, 3, 4 }, y[] = { 1.0, 2.9, 5.2, 7.1, 8.8 };
        const double lx[] = { 1e9, 1e9 + 1, 1e9 + 2, NAN, 1e9 + 3 }, ly[] = { 7, 10, 13, 99, 16 };
        const double flat[] = { 2, 2, 2 };
        double slope, intercept, se;

        ck_assert_int_eq(watchrules_least_squares(x, y, 5, &slope, &intercept, &se), 0);
        assert_rel(slope, 1.98, 1e-12);
        assert_rel(intercept, 1.04, 1e-12);
        assert_rel(se, 0.0565685424949238, 1e-10);

        /* far from the origin (times in usec): no cancellation; the NaN pair is skipped; a perfect fit */
        ck_assert_int_eq(watchrules_least_squares(lx, ly, 5, &slope, &intercept, &se), 0);
        assert_rel(slope, 3, 1e-12);
        ck_assert(fabs(se) < 1e-6);

        ck_assert_int_eq(watchrules_least_squares(x, y, 2, &slope, NULL, &se), 0);
        assert_rel(slope, 1.9, 1e-12);
        ck_assert(isnan(se));

        ck_assert_int_eq(watchrules_least_squares(x, y, 1, &slope, NULL, NULL), -EINVAL);
        ck_assert_int_eq(watchrules_least_squares(flat, y, 3, &slope, NULL, NULL), -EINVAL);
        ck_assert_int_eq(watchrules_least_squares(NULL, y, 3, &slope, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_error_bound) {
        /* the smallest degraded count, computed with exact sums */
        static const struct {
                uint64_t before;
                usec_t window;
                uint64_t want;
        } cases[] = {
                { 0, 30 * SEC, 5 },     { 0, 3 * MINUTE, 5 }, { 0, 20 * MINUTE, 5 },
                { 0, 30 * MINUTE, 7 },  { 0, HOUR, 10 },      { 12, 3 * MINUTE, 5 },
                { 60, 5 * MINUTE, 15 }, { 60, HOUR, 120 },    { 600, 3 * MINUTE, 60 },
        };
        WatchParams p = params();

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                WatchBaseline b = { .errors = cases[i].before, .window = HOUR };
                uint64_t bound = 0;

                ck_assert_int_eq(watchrules_error_bound(&b, cases[i].window, &p, &bound), 0);
                ck_assert_uint_eq(bound, cases[i].want);
        }

        /* the bound is what the rule does: bound errors in the window are degraded, one fewer is not */
        for (uint64_t before = 0; before <= 600; before += 60) {
                WatchBaseline b = { .errors = before,
                                    .window = HOUR,
                                    .runs_succeeded = WATCH_UNKNOWN,
                                    .runs_failed = WATCH_UNKNOWN,
                                    .lag = NAN,
                                    .memory_max = WATCH_UNKNOWN };
                WatchSample s = { .usec = 5 * MINUTE,
                                  .runs_succeeded = WATCH_UNKNOWN,
                                  .runs_failed = WATCH_UNKNOWN,
                                  .lag = NAN,
                                  .memory = WATCH_UNKNOWN };
                WatchVerdicts v;
                uint64_t bound;

                ck_assert_int_eq(watchrules_error_bound(&b, 5 * MINUTE, &p, &bound), 0);
                s.errors = bound;
                ck_assert_int_eq(watchrules_evaluate(&b, &s, 1, &p, &v), 1);
                ck_assert_int_eq(v.signal[WATCH_ERRORS].state, WATCH_DEGRADED);
                ck_assert_uint_eq(v.signal[WATCH_ERRORS].bound, bound);
                s.errors = bound - 1;
                ck_assert_int_eq(watchrules_evaluate(&b, &s, 1, &p, &v), 0);
                ck_assert_int_eq(v.signal[WATCH_ERRORS].state, WATCH_OK);
        }

        WatchBaseline unknown = { .errors = WATCH_UNKNOWN, .window = HOUR };
        uint64_t bound = 42;
        ck_assert_int_eq(watchrules_error_bound(&unknown, HOUR, &p, &bound), -EINVAL);
        ck_assert_int_eq(watchrules_error_bound(&prod_baseline, 0, &p, &bound), -EINVAL);
        ck_assert_uint_eq(bound, 42);
}
END_TEST

/* ---- the verdicts on recorded series ---- */

START_TEST(test_healthy) {
        /* two days of Interval=5min, and the integration test's 18 samples */
        static const size_t lengths[] = { 18, 576 };
        WatchVerdicts v;

        for (uint64_t seed = 1; seed <= 5; seed++)
                for (size_t i = 0; i < ELEMENTSOF(lengths); i++) {
                        _cleanup_free_ WatchSample *s = healthy_series(lengths[i], &prod, seed);
                        WatchBaseline no_memory = prod_baseline;

                        ck_assert_int_eq(evaluate(&prod_baseline, s, lengths[i], &v), 0);
                        assert_all_ok(&v);
                        ck_assert_uint_eq(v.signal[WATCH_LAG].count, 0);
                        ck_assert(!v.signal[WATCH_ERRORS].firing);

                        /* the old server's MemoryCurrent not known: the first hour is the reference */
                        no_memory.memory_max = WATCH_UNKNOWN;
                        ck_assert_int_eq(evaluate(&no_memory, s, lengths[i], &v), 0);
                        assert_all_ok(&v);
                }

        for (uint64_t seed = 1; seed <= 5; seed++) {
                _cleanup_free_ WatchSample *s = healthy_series(18, &itest, seed);

                ck_assert_int_eq(evaluate(&itest_baseline, s, 18, &v), 0);
                assert_all_ok(&v);
        }
}
END_TEST

START_TEST(test_numbers) {
        _cleanup_free_ WatchSample *s = healthy_series(12, &prod, 7);
        WatchVerdicts v;
        const WatchVerdict *e = &v.signal[WATCH_ERRORS], *r = &v.signal[WATCH_RUNS],
                           *l = &v.signal[WATCH_LAG], *m = &v.signal[WATCH_MEMORY];

        ck_assert_int_eq(evaluate(&prod_baseline, s, 12, &v), 0);
        /* errors: the whole hour so far against the baseline's hour */
        ck_assert_uint_eq(e->window, HOUR);
        ck_assert_uint_eq(e->count, s[11].errors);
        assert_rel(e->value, (double)s[11].errors / 60, 1e-12);
        assert_rel(e->baseline, 1, 1e-12);
        ck_assert_uint_eq(e->bound, 120);
        assert_rel(e->threshold, 2, 1e-12);
        ck_assert(e->p > 0.001 && e->p <= 1);
        /* runs: 98 % is the reference, 88 % the line */
        ck_assert_uint_eq(r->count, 120);
        assert_rel(r->baseline, 98, 1e-12);
        assert_rel(r->threshold, 88, 1e-12);
        assert_rel(r->value, 100.0 * (double)s[11].runs_succeeded / 120, 1e-12);
        /* lag */
        assert_rel(l->value, s[11].lag, 0);
        assert_rel(l->threshold, 60, 0);
        assert_rel(l->baseline, 25, 0);
        ck_assert(l->peak < 30);
        ck_assert(isnan(l->p));
        /* memory: 12 readings within the first hour, the baseline's peak as reference */
        ck_assert_uint_eq(m->count, 12);
        ck_assert_uint_eq(m->window, HOUR);
        assert_rel(m->reference, 510.0 * MIB, 0);
        assert_rel(m->threshold, 256.0 * MIB, 0);
        ck_assert(m->level < m->reference);
        ck_assert(m->peak <= 510.0 * MIB);
}
END_TEST

START_TEST(test_error_burst) {
        _cleanup_free_ WatchSample *s = healthy_series(576, &prod, 11);
        _cleanup_free_ WatchSample *clump = healthy_series(576, &prod, 11);
        WatchVerdicts v;

        /* 20 errors a minute instead of 1 for half an hour, from the interval ending at sample 200 */
        for (size_t i = 200; i < 576; i++)
                s[i].errors += 95 * (i < 206 ? i - 199 : 6);
        ck_assert_int_eq(evaluate(&prod_baseline, s, 576, &v), 1);
        assert_degraded(&v, WATCH_ERRORS, 200);
        ck_assert_uint_eq(v.signal[WATCH_ERRORS].since_usec, 201 * 5 * MINUTE);
        assert_only(&v, WATCH_ERRORS);
        /* an hour later the window has forgotten it: still degraded, no longer firing */
        ck_assert(!v.signal[WATCH_ERRORS].firing);
        ck_assert_int_eq(evaluate(&prod_baseline, s, 210, &v), 1);
        ck_assert(v.signal[WATCH_ERRORS].firing);
        ck_assert_uint_eq(v.signal[WATCH_ERRORS].window, HOUR);
        assert_prefixes(&prod_baseline, s, 230);

        /* one clump of 40 lines in one interval (a stack trace, a database failover) does not double
         * the hour: reported in the numbers, not a regression */
        for (size_t i = 300; i < 576; i++)
                clump[i].errors += 40;
        ck_assert_int_eq(evaluate(&prod_baseline, clump, 576, &v), 0);
        assert_all_ok(&v);
        ck_assert_int_eq(evaluate(&prod_baseline, clump, 301, &v), 0);
        ck_assert_uint_ge(v.signal[WATCH_ERRORS].count, 80);
}
END_TEST

START_TEST(test_errors_tiny_counts) {
        WatchBaseline b = itest_baseline;
        WatchSample s[18];
        WatchVerdicts v;

        /* 0 errors in the baseline hour, 2 in the 3 minutes after: not a regression by itself */
        for (size_t i = 0; i < 18; i++)
                s[i] = (WatchSample){ .usec = (i + 1) * 10 * SEC,
                                      .errors = i >= 3 ? 1 : 0,
                                      .runs_succeeded = i + 1,
                                      .runs_failed = 0,
                                      .lag = 0.5,
                                      .memory = 45 * MIB };
        for (size_t i = 12; i < 18; i++)
                s[i].errors = 2;
        ck_assert_int_eq(evaluate(&b, s, 18, &v), 0);
        assert_all_ok(&v);
        ck_assert_uint_eq(v.signal[WATCH_ERRORS].count, 2);
        ck_assert_uint_eq(v.signal[WATCH_ERRORS].bound, 5);

        /* 30 in 3 minutes: degraded, at the sample where the fifth one is counted */
        for (size_t i = 0; i < 18; i++)
                s[i].errors = (i + 1) * 30 / 18;
        ck_assert_int_eq(evaluate(&b, s, 18, &v), 1);
        assert_degraded(&v, WATCH_ERRORS, 2);
        ck_assert_uint_eq(s[2].errors, 5);
        ck_assert_uint_eq(v.signal[WATCH_ERRORS].count, 30);
        ck_assert(v.signal[WATCH_ERRORS].p < 1e-30);

        /* the same 30 against a chatty baseline (600 an hour, 30 expected in 3 min) are no news */
        b.errors = 600;
        ck_assert_int_eq(evaluate(&b, s, 18, &v), 0);
        ck_assert_uint_eq(v.signal[WATCH_ERRORS].bound, 60);

        /* a counter reset (codebolt_errors_total after a restart) counts from 0 again, not backwards */
        b.errors = 0;
        for (size_t i = 0; i < 18; i++)
                s[i].errors = i < 9 ? 2 : 1;
        ck_assert_int_eq(evaluate(&b, s, 18, &v), 0);
        ck_assert_uint_eq(v.signal[WATCH_ERRORS].count, 3);
}
END_TEST

START_TEST(test_slow_leak) {
        WatchVerdicts v;
        const WatchVerdict *m = &v.signal[WATCH_MEMORY];

        for (uint64_t seed = 1; seed <= 10; seed++) {
                _cleanup_free_ WatchSample *s = healthy_series(576, &prod, seed);
                _cleanup_free_ WatchSample *slow = healthy_series(576, &prod, seed);

                /* 1 GiB a day on top of the ±2 % noise: its mean passes 1.05 × the old peak (510 MiB)
                 * at ~50 min (sample 9); the noise makes that a little earlier or later */
                for (size_t i = 0; i < 576; i++)
                        s[i].memory += (uint64_t)(1024.0 * MIB * (double)s[i].usec / (24.0 * HOUR));
                ck_assert_int_eq(evaluate(&prod_baseline, s, 576, &v), 1);
                assert_only(&v, WATCH_MEMORY);
                ck_assert_int_eq(m->state, WATCH_DEGRADED);
                ck_assert_msg(m->since >= 6 && m->since <= 36, "since %zu", m->since);
                ck_assert(m->firing);
                assert_rel(m->value, 1024.0 * MIB, 0.05);
                ck_assert(m->p < 1e-10);
                if (seed == 1)
                        assert_prefixes(&prod_baseline, s, 60);

                /* settling 10 % above the old peak and staying flat: above the reference, but the
                 * noise gives no significant slope */
                _cleanup_free_ WatchSample *high = healthy_series(
                        576,
                        &(Healthy){ .interval = prod.interval, .memory = 1.1 * 510 * MIB, .noise = 0.02 },
                        seed);
                ck_assert_int_eq(evaluate(&prod_baseline, high, 12, &v), 0);
                ck_assert_int_eq(m->state, WATCH_OK);
                ck_assert(m->level > m->reference * 1.05);
                ck_assert_int_eq(evaluate(&prod_baseline, high, 576, &v), 0);
                ck_assert_int_eq(m->state, WATCH_OK);

                /* slower than MemoryGrowth= (128 MiB/day): not flagged, however long it runs */
                for (size_t i = 0; i < 576; i++)
                        slow[i].memory += (uint64_t)(128.0 * MIB * (double)slow[i].usec / (24.0 * HOUR));
                ck_assert_int_eq(evaluate(&prod_baseline, slow, 576, &v), 0);
                assert_all_ok(&v);
        }
}
END_TEST

START_TEST(test_steady_leak) {
        WatchVerdicts v;

        /* production: +25 MiB every 5 min (7 GiB/day), ±1 % noise: flagged at the 4th reading */
        for (uint64_t seed = 1; seed <= 20; seed++) {
                Healthy h = prod;
                h.noise = 0.01;
                _cleanup_free_ WatchSample *s = healthy_series(20, &h, seed);

                for (size_t i = 0; i < 20; i++)
                        s[i].memory += (uint64_t)i * 25 * MIB;
                ck_assert_int_eq(evaluate(&prod_baseline, s, 20, &v), 1);
                assert_degraded(&v, WATCH_MEMORY, 3);
                assert_only(&v, WATCH_MEMORY);
        }

        /* the integration test: a fresh stand-in leaking 1 MiB/s, sampled every 10 s from its start */
        for (uint64_t seed = 1; seed <= 20; seed++) {
                Healthy h = itest;
                h.noise = 0.01;
                _cleanup_free_ WatchSample *s = healthy_series(18, &h, seed);

                for (size_t i = 0; i < 18; i++) {
                        s[i].usec -= h.interval; /* the first reading at the start */
                        s[i].memory += (uint64_t)i * 10 * MIB;
                }
                ck_assert_int_eq(evaluate(&itest_baseline, s, 18, &v), 1);
                assert_degraded(&v, WATCH_MEMORY, 3);
                ck_assert_uint_eq(v.signal[WATCH_MEMORY].since_usec, 30 * SEC);
                assert_prefixes(&itest_baseline, s, 18);
        }
}
END_TEST

/* tooth: `len` readings rising evenly from lo to hi, then back to lo (a GC) */
static void sawtooth(WatchSample *s, size_t n, size_t len, double lo, double hi, double noise) {
        for (size_t i = 0; i < n; i++)
                s[i].memory =
                        (uint64_t)((lo + (hi - lo) * (double)(i % len) / (double)(len - 1)) * (1 + noise * (2 * uniform() - 1)));
}

START_TEST(test_sawtooth) {
        WatchVerdicts v;

        for (uint64_t seed = 1; seed <= 20; seed++) {
                _cleanup_free_ WatchSample *s = healthy_series(20, &prod, seed);
                _cleanup_free_ WatchSample *l = healthy_series(576, &prod, seed);
                WatchBaseline b = prod_baseline, none = prod_baseline;

                /* 4 teeth over 20 samples, 400 → 500 MiB, peaks level with the old version's */
                b.memory_max = 500 * MIB;
                none.memory_max = WATCH_UNKNOWN;
                sawtooth(s, 20, 5, 400.0 * MIB, 500.0 * MIB, 0.01);
                ck_assert_int_eq(evaluate(&b, s, 20, &v), 0);
                assert_all_ok(&v);
                ck_assert_int_eq(evaluate(&none, s, 20, &v), 0);
                assert_all_ok(&v);
                assert_prefixes(&b, s, 20);
                /* without the margin too: the lower of the last two readings never passes the peak */
                WatchParams p = params();
                p.memory_margin = 0;
                ck_assert_int_eq(watchrules_evaluate(&b, s, 20, &p, &v), 0);
                assert_all_ok(&v);

                /* and for two days, with teeth of 7 */
                sawtooth(l, 576, 7, 400.0 * MIB, 500.0 * MIB, 0.01);
                ck_assert_int_eq(evaluate(&b, l, 576, &v), 0);
                assert_all_ok(&v);
                ck_assert_int_eq(evaluate(&none, l, 576, &v), 0);
                assert_all_ok(&v);

                /* a sawtooth whose troughs and peaks both climb 4 GiB a day is a leak */
                for (size_t i = 0; i < 576; i++)
                        l[i].memory += (uint64_t)(4096.0 * MIB * (double)l[i].usec / (24.0 * HOUR));
                ck_assert_int_eq(evaluate(&b, l, 576, &v), 1);
                ck_assert_int_eq(v.signal[WATCH_MEMORY].state, WATCH_DEGRADED);
        }
}
END_TEST

START_TEST(test_lag) {
        _cleanup_free_ WatchSample *s = healthy_series(40, &prod, 5);
        WatchVerdicts v;
        const WatchVerdict *l = &v.signal[WATCH_LAG];

        /* a single blip is reported, not degraded */
        s[8].lag = 120;
        ck_assert_int_eq(evaluate(&prod_baseline, s, 40, &v), 0);
        assert_all_ok(&v);
        ck_assert_uint_eq(l->count, 1);
        assert_rel(l->peak, 120, 0);
        ck_assert(!l->firing);

        /* lasting three samples is: since the second */
        s[9].lag = 95;
        s[10].lag = 130;
        ck_assert_int_eq(evaluate(&prod_baseline, s, 40, &v), 1);
        assert_degraded(&v, WATCH_LAG, 9);
        assert_only(&v, WATCH_LAG);
        ck_assert_uint_eq(l->count, 3);
        assert_rel(l->peak, 130, 0);
        ck_assert(!l->firing);
        ck_assert_int_eq(evaluate(&prod_baseline, s, 11, &v), 1);
        ck_assert(l->firing);
        assert_prefixes(&prod_baseline, s, 40);

        /* a reading that could not be taken does not break the streak */
        s[9].lag = NAN;
        s[10].lag = 61;
        ck_assert_int_eq(evaluate(&prod_baseline, s, 40, &v), 1);
        assert_degraded(&v, WATCH_LAG, 10);
}
END_TEST

START_TEST(test_runs) {
        WatchVerdicts v;
        const WatchVerdict *r = &v.signal[WATCH_RUNS];

        /* 98 % before, 60 % after, 10 runs per interval: 30 runs are enough to tell */
        _cleanup_free_ WatchSample *s = healthy_series(40, &prod, 9);
        for (size_t i = 0; i < 40; i++) {
                s[i].runs_succeeded = 6 * (i + 1);
                s[i].runs_failed = 4 * (i + 1);
        }
        ck_assert_int_eq(evaluate(&prod_baseline, s, 40, &v), 1);
        assert_degraded(&v, WATCH_RUNS, 2);
        assert_only(&v, WATCH_RUNS);
        assert_rel(r->value, 60, 1e-12);
        assert_rel(r->threshold, 88, 1e-12);
        ck_assert(r->p < 1e-10);
        assert_prefixes(&prod_baseline, s, 40);

        /* 1 failed of 3: too few runs, and the test would not say it anyway */
        WatchSample few[3] = {
                { .usec = 10 * SEC,
                  .runs_succeeded = 1,
                  .runs_failed = 0,
                  .lag = NAN,
                  .memory = WATCH_UNKNOWN },
                { .usec = 20 * SEC,
                  .runs_succeeded = 1,
                  .runs_failed = 1,
                  .lag = NAN,
                  .memory = WATCH_UNKNOWN },
                { .usec = 30 * SEC,
                  .runs_succeeded = 2,
                  .runs_failed = 1,
                  .lag = NAN,
                  .memory = WATCH_UNKNOWN },
        };
        ck_assert_int_eq(evaluate(&prod_baseline, few, 3, &v), 0);
        ck_assert_int_eq(r->state, WATCH_OK);
        ck_assert_uint_eq(r->count, 3);
        WatchParams p = params();
        p.min_runs = 1;
        ck_assert_int_eq(watchrules_evaluate(&prod_baseline, few, 3, &p, &v), 0);
        ck_assert_int_eq(r->state, WATCH_OK);
        assert_rel(r->p, 0.318528, 1e-9);

        /* 3 of 5 against 98 %: not yet (p = 0.11) */
        few[2].runs_succeeded = 3;
        few[2].runs_failed = 2;
        ck_assert_int_eq(evaluate(&prod_baseline, few, 3, &v), 0);
        assert_rel(r->p, 0.11245087, 1e-7);

        /* the integration test: every run fails, 2 finish per 10 s; no baseline runs, so 100 % - 10 */
        WatchBaseline b = itest_baseline;
        b.runs_succeeded = b.runs_failed = 0;
        _cleanup_free_ WatchSample *f = healthy_series(18, &itest, 1);
        for (size_t i = 0; i < 18; i++) {
                f[i].usec -= itest.interval;
                f[i].runs_succeeded = 0;
                f[i].runs_failed = 2 * i;
        }
        ck_assert_int_eq(evaluate(&b, f, 18, &v), 1);
        assert_degraded(&v, WATCH_RUNS, 3);
        assert_rel(r->baseline, 100, 0);
        assert_rel(r->threshold, 90, 0);

        /* a restart resets the counters: the runs after it are added, not subtracted */
        for (size_t i = 0; i < 18; i++) {
                f[i].runs_succeeded = i < 9 ? 10 * i : 10 * (i - 9);
                f[i].runs_failed = 0;
        }
        ck_assert_int_eq(evaluate(&b, f, 18, &v), 0);
        ck_assert_uint_eq(r->count, 80 + 80);
        assert_rel(r->value, 100, 0);
}
END_TEST

START_TEST(test_integration_errors) {
        /* the stand-in that logs an error every 5 s, sampled every 10 s from its start */
        _cleanup_free_ WatchSample *s = healthy_series(18, &itest, 4);
        WatchVerdicts v;

        for (size_t i = 0; i < 18; i++) {
                s[i].usec -= itest.interval;
                s[i].errors = 2 * i;
        }
        ck_assert_int_eq(evaluate(&itest_baseline, s, 18, &v), 1);
        assert_degraded(&v, WATCH_ERRORS, 3);
        assert_only(&v, WATCH_ERRORS);
        assert_prefixes(&itest_baseline, s, 18);
}
END_TEST

START_TEST(test_unknown) {
        WatchBaseline b = { .errors = WATCH_UNKNOWN,
                            .runs_succeeded = WATCH_UNKNOWN,
                            .runs_failed = WATCH_UNKNOWN,
                            .lag = NAN,
                            .memory_max = WATCH_UNKNOWN };
        WatchSample s[3];
        WatchVerdicts v;

        ck_assert_int_eq(evaluate(&prod_baseline, NULL, 0, &v), 0);
        for (size_t i = 0; i < _WATCH_SIGNAL_MAX; i++)
                ck_assert_int_eq(v.signal[i].state, WATCH_UNKNOWN_STATE);
        ck_assert_int_eq(watchrules_overall(&v), WATCH_UNKNOWN_STATE);

        /* /metrics unreachable, no baseline at all: only what can be judged is */
        for (size_t i = 0; i < 3; i++)
                s[i] = (WatchSample){ .usec = (i + 1) * MINUTE,
                                      .errors = 0,
                                      .runs_succeeded = WATCH_UNKNOWN,
                                      .runs_failed = WATCH_UNKNOWN,
                                      .lag = NAN,
                                      .memory = 100 * MIB };
        ck_assert_int_eq(evaluate(&b, s, 3, &v), 0);
        ck_assert_int_eq(v.signal[WATCH_ERRORS].state, WATCH_UNKNOWN_STATE);
        ck_assert_int_eq(v.signal[WATCH_RUNS].state, WATCH_UNKNOWN_STATE);
        ck_assert_int_eq(v.signal[WATCH_LAG].state, WATCH_UNKNOWN_STATE);
        ck_assert_int_eq(v.signal[WATCH_MEMORY].state, WATCH_OK);
        ck_assert(isnan(v.signal[WATCH_MEMORY].reference));
        ck_assert_int_eq(watchrules_overall(&v), WATCH_OK);

        ck_assert_str_eq(watch_state_to_string(WATCH_DEGRADED), "degraded");
        ck_assert_str_eq(watch_signal_to_string(WATCH_MEMORY), "memory");
        ck_assert_ptr_null(watch_state_to_string(_WATCH_STATE_MAX));
}
END_TEST

START_TEST(test_invalid) {
        WatchSample s[2] = {
                { .usec = 2 * MINUTE, .lag = NAN, .memory = WATCH_UNKNOWN },
                { .usec = MINUTE, .lag = NAN, .memory = WATCH_UNKNOWN },
        };
        WatchVerdicts v = { .signal[WATCH_ERRORS].count = 4242 };
        WatchParams p = params();

        ck_assert_int_eq(evaluate(&prod_baseline, s, 2, &v), -EINVAL);
        ck_assert_uint_eq(v.signal[WATCH_ERRORS].count, 4242);
        ck_assert_int_eq(evaluate(&prod_baseline, NULL, 2, &v), -EINVAL);
        p.alpha = 0;
        ck_assert_int_eq(watchrules_evaluate(&prod_baseline, s, 1, &p, &v), -EINVAL);
        p = params();
        p.min_memory_samples = 2;
        ck_assert_int_eq(watchrules_evaluate(&prod_baseline, s, 1, &p, &v), -EINVAL);
        ck_assert_int_eq(watchrules_evaluate(&prod_baseline, s, 1, NULL, &v), -EINVAL);
}
END_TEST

START_TEST(test_figures) {
        const double ramp[] = { 1, 2.5, 3, 4, 1234567, NAN };
        char buf[64], tiny[4];

        ck_assert_int_eq(watchrules_figures(ramp, 3, 8, buf, sizeof(buf)), 7);
        ck_assert_str_eq(buf, "1 2.5 3");
        /* the last ones, the rest marked as left out; three digits; a gap as - */
        ck_assert_int_gt(watchrules_figures(ramp, 6, 3, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "… 4 1.23e+06 -");
        ck_assert_int_eq(watchrules_figures(ramp, 0, 3, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "");
        ck_assert_int_eq(watchrules_figures(ramp, 3, 8, tiny, sizeof(tiny)), -ENOBUFS);
}
END_TEST

START_TEST(test_sparkline) {
        const double ramp[] = { 1, 2, 3, 4, 5, 6, 7, 8 }, flat[] = { 5, 5, 5 }, gap[] = { 0, NAN, 10 };
        const double none[] = { NAN, INFINITY, NAN };
        double sixteen[16];
        char buf[64];

        for (size_t i = 0; i < 16; i++)
                sixteen[i] = (double)i;
        ck_assert_int_eq(watchrules_sparkline(ramp, 8, 8, buf, sizeof(buf)), 24);
        ck_assert_str_eq(buf, "▁▂▃▄▅▆▇█");
        ck_assert_int_eq(watchrules_sparkline(flat, 3, 10, buf, sizeof(buf)), 9);
        ck_assert_str_eq(buf, "▁▁▁");
        ck_assert_int_eq(watchrules_sparkline(gap, 3, 10, buf, sizeof(buf)), 7);
        ck_assert_str_eq(buf, "▁ █");
        ck_assert_int_eq(watchrules_sparkline(none, 3, 10, buf, sizeof(buf)), 3);
        ck_assert_str_eq(buf, "   ");
        /* 16 values in 4 cells: means 1.5 5.5 9.5 13.5 */
        ck_assert_int_eq(watchrules_sparkline(sixteen, 16, 4, buf, sizeof(buf)), 12);
        ck_assert_str_eq(buf, "▁▃▆█");
        /* 8 in 3 cells of 2, 3, 3 values: 1.5, 4, 7 */
        ck_assert_int_eq(watchrules_sparkline(ramp, 8, 3, buf, sizeof(buf)), 9);
        ck_assert_str_eq(buf, "▁▄█");
        ck_assert_int_eq(watchrules_sparkline(ramp, 2, 10, buf, sizeof(buf)), 6);
        ck_assert_str_eq(buf, "▁█");
        ck_assert_int_eq(watchrules_sparkline(ramp, 8, 0, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "");
        ck_assert_int_eq(watchrules_sparkline(ramp, 8, 8, buf, 24), -ENOBUFS);
        ck_assert_int_eq(watchrules_sparkline(ramp, 8, 8, buf, 25), 24);

        /* lags near the largest double, as /metrics may give them: the sums of a cell and the spread of
         * the cells stay finite (an overflow to infinity made the index NaN, then a read far outside
         * the blocks) */
        const double huge[] = { DBL_MAX, DBL_MAX, 0, 0 }, wide[] = { -DBL_MAX, DBL_MAX },
                     mixed[] = { 1e308, -1e308, 1e308, 0, 5, -DBL_MAX };
        ck_assert_int_eq(watchrules_sparkline(huge, 4, 2, buf, sizeof(buf)), 6);
        ck_assert_str_eq(buf, "█▁");
        ck_assert_int_eq(watchrules_sparkline(wide, 2, 2, buf, sizeof(buf)), 6);
        ck_assert_str_eq(buf, "▁█");
        ck_assert_int_eq(watchrules_sparkline(mixed, 6, 6, buf, sizeof(buf)), 18);
        ck_assert_str_eq(buf, "█▃█▅▅▁");
}
END_TEST

static Suite *watchrules_suite(void) {
        Suite *s = suite_create("watchrules");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_binomial_tail);
        tcase_add_test(tc, test_t_tail);
        tcase_add_test(tc, test_least_squares);
        tcase_add_test(tc, test_error_bound);
        tcase_add_test(tc, test_healthy);
        tcase_add_test(tc, test_numbers);
        tcase_add_test(tc, test_error_burst);
        tcase_add_test(tc, test_errors_tiny_counts);
        tcase_add_test(tc, test_slow_leak);
        tcase_add_test(tc, test_steady_leak);
        tcase_add_test(tc, test_sawtooth);
        tcase_add_test(tc, test_lag);
        tcase_add_test(tc, test_runs);
        tcase_add_test(tc, test_integration_errors);
        tcase_add_test(tc, test_unknown);
        tcase_add_test(tc, test_invalid);
        tcase_add_test(tc, test_sparkline);
        tcase_add_test(tc, test_figures);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(watchrules_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
