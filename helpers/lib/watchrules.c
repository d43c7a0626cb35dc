/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* watchrules.c: the verdicts of the post-upgrade watch */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "time-util.h"
#include "watchrules.h"

#define MIB (1024.0 * 1024.0)
#define MAX_EXACT ((uint64_t)1 << 53) /* counts a double still holds exactly */

static uint64_t u64_max(uint64_t a, uint64_t b) {
        return a > b ? a : b;
}

const char *watch_state_to_string(WatchState s) {
        static const char *const names[_WATCH_STATE_MAX] = {
                [WATCH_OK] = "ok",
                [WATCH_DEGRADED] = "degraded",
                [WATCH_UNKNOWN_STATE] = "unknown",
        };
        return s >= 0 && s < _WATCH_STATE_MAX ? names[s] : NULL;
}

const char *watch_signal_to_string(WatchSignal s) {
        static const char *const names[_WATCH_SIGNAL_MAX] = {
                [WATCH_ERRORS] = "errors",
                [WATCH_RUNS] = "runs",
                [WATCH_LAG] = "lag",
                [WATCH_MEMORY] = "memory",
        };
        return s >= 0 && s < _WATCH_SIGNAL_MAX ? names[s] : NULL;
}

void watchrules_params_default(WatchParams *ret) {
        *ret = (WatchParams){
                .alpha = 0.001,
                .min_errors = 5,
                .min_error_ratio = 2,
                .success_drop = 10,
                .min_runs = 5,
                .max_lag = 60,
                .lag_samples = 2,
                .memory_growth = 256 * MIB,
                .memory_alpha = 0.005,
                .min_memory_samples = 4,
                .memory_margin = 0.05,
                .memory_settle = USEC_PER_HOUR,
        };
}

static bool params_valid(const WatchParams *p) {
        return p && p->alpha > 0 && p->alpha < 1 && p->min_error_ratio >= 0 && p->success_drop >= 0 &&
               p->success_drop <= 100 && p->max_lag >= 0 && p->lag_samples >= 1 && p->memory_growth >= 0 &&
               p->memory_alpha > 0 && p->memory_alpha < 1 && p->min_memory_samples >= 3 &&
               p->memory_margin >= 0;
}

/* ---- distributions ---- */

double watchrules_binomial_tail(uint64_t k, uint64_t n, double p) {
        double lp, lq, lodds, lt0, sum = 1, lt;
        bool upper;
        uint64_t j;

        if (k == 0)
                return 1;
        if (k > n || !(p > 0))
                return 0;
        if (p >= 1)
                return 1;

        lp = log(p);
        lq = log1p(-p);
        lodds = lp - lq;
        /* sum away from the mode, so the first term is the largest and the rest only shrink: the upper
         * tail from k when k is above the mean, else 1 - the lower tail from k - 1 down */
        upper = (double)k > (double)n * p;
        j = upper ? k : k - 1;
        lt0 = lgamma((double)n + 1) - lgamma((double)j + 1) - lgamma((double)(n - j) + 1) + (double)j * lp +
              (double)(n - j) * lq;
        lt = 0; /* log of the term relative to the first */
        for (;;) {
                double term;

                if (upper) {
                        if (j == n)
                                break;
                        lt += log((double)(n - j)) - log((double)(j + 1)) + lodds;
                        j++;
                } else {
                        if (j == 0)
                                break;
                        lt += log((double)j) - log((double)(n - j + 1)) - lodds;
                        j--;
                }
                term = exp(lt);
                sum += term;
                if (term < sum * 1e-17)
                        break;
        }
        lt = lt0 + log(sum);
        return upper ? exp(lt) : fmax(0, -expm1(lt));
}

/* the continued fraction of the incomplete beta function (modified Lentz) */
static double beta_cf(double a, double b, double x) {
        const double tiny = 1e-300;
        double c = 1, d = 1 - (a + b) * x / (a + 1), h;

        d = 1 / (fabs(d) < tiny ? tiny : d);
        h = d;
        for (int m = 1; m <= 10000; m++) {
                double aa, delta;
                int m2 = 2 * m;

                aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
                d = 1 + aa * d;
                d = 1 / (fabs(d) < tiny ? tiny : d);
                c = 1 + aa / c;
                c = fabs(c) < tiny ? tiny : c;
                h *= d * c;
                aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
                d = 1 + aa * d;
                d = 1 / (fabs(d) < tiny ? tiny : d);
                c = 1 + aa / c;
                c = fabs(c) < tiny ? tiny : c;
                delta = d * c;
                h *= delta;
                if (fabs(delta - 1) < 1e-16)
                        break;
        }
        return h;
}

/* the regularized incomplete beta function I_x(a, b) */
static double beta_inc(double a, double b, double x) {
        double lfront;

        if (x <= 0)
                return 0;
        if (x >= 1)
                return 1;
        lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
        if (x < (a + 1) / (a + b + 2))
                return exp(lfront) * beta_cf(a, b, x) / a;
        return 1 - exp(lfront) * beta_cf(b, a, 1 - x) / b;
}

double watchrules_t_tail(double t, double df) {
        double half;

        if (isnan(t) || !(df > 0))
                return NAN;
        if (isinf(t))
                return t > 0 ? 0 : 1;
        /* P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2) */
        half = 0.5 * beta_inc(df / 2, 0.5, df / (df + t * t));
        return t >= 0 ? half : 1 - half;
}

/* ---- least squares ---- */

/* running means and co-moments (Welford), stable where the plain sums of squares cancel */
typedef struct Fit {
        size_t n;
        double mx, my, sxx, syy, sxy;
} Fit;

static void fit_add(Fit *f, double x, double y) {
        double dx = x - f->mx, dy;

        f->n++;
        f->mx += dx / f->n;
        dy = y - f->my;
        f->my += dy / f->n;
        f->sxx += dx * (x - f->mx);
        f->syy += dy * (y - f->my);
        f->sxy += dx * (y - f->my);
}

static int fit_get(const Fit *f, double *ret_slope, double *ret_intercept, double *ret_se) {
        double slope, ssr;

        if (f->n < 2 || !(f->sxx > 0))
                return -EINVAL;
        slope = f->sxy / f->sxx;
        ssr = fmax(0, f->syy - slope * f->sxy);
        if (ret_slope)
                *ret_slope = slope;
        if (ret_intercept)
                *ret_intercept = f->my - slope * f->mx;
        if (ret_se)
                *ret_se = f->n > 2 ? sqrt(ssr / (f->n - 2) / f->sxx) : NAN;
        return 0;
}

int watchrules_least_squares(
        const double *x,
        const double *y,
        size_t n,
        double *ret_slope,
        double *ret_intercept,
        double *ret_slope_se) {
        Fit f = {};

        if (n > 0 && (!x || !y))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!isnan(x[i]) && !isnan(y[i]))
                        fit_add(&f, x[i], y[i]);
        return fit_get(&f, ret_slope, ret_intercept, ret_slope_se);
}

/* ---- the rules ---- */

/* one counter's increase since the previous reading; a decrease is a restart counting from 0 */
static uint64_t counter_increase(uint64_t *last, uint64_t v) {
        uint64_t inc = v >= *last ? v - *last : v;

        *last = v;
        return inc;
}

static void verdict_init(WatchVerdict *v) {
        *v = (WatchVerdict){
                .state = WATCH_UNKNOWN_STATE,
                .value = NAN,
                .baseline = NAN,
                .threshold = NAN,
                .p = NAN,
                .bound = WATCH_UNKNOWN,
                .peak = NAN,
                .level = NAN,
                .reference = NAN,
        };
}

/* a measured signal: ok unless it already was degraded; a degraded one keeps its since */
static void verdict_step(WatchVerdict *v, bool holds, size_t i, usec_t t) {
        if (v->state == WATCH_UNKNOWN_STATE)
                v->state = WATCH_OK;
        if (holds && v->state != WATCH_DEGRADED) {
                v->state = WATCH_DEGRADED;
                v->since = i;
                v->since_usec = t;
        }
        v->firing = holds;
}

/* the conditional test of k errors over window against the baseline's kb over wb */
static bool errors_degraded(
        uint64_t k, usec_t window, uint64_t kb, usec_t wb, const WatchParams *p, double *ret_p) {
        double share = (double)window / ((double)window + (double)wb), pv;

        pv = watchrules_binomial_tail(k, k + kb, share);
        if (ret_p)
                *ret_p = pv;
        return k >= p->min_errors &&
               (double)k * (double)wb >= p->min_error_ratio * (double)kb * (double)window && pv < p->alpha;
}

int watchrules_error_bound(
        const WatchBaseline *baseline, usec_t window, const WatchParams *params, uint64_t *ret) {
        uint64_t lo, hi;
        double need;

        if (!baseline || !params_valid(params) || window == 0 || baseline->window == 0 ||
            baseline->errors == WATCH_UNKNOWN || baseline->errors >= MAX_EXACT)
                return -EINVAL;

        /* the ratio and the floor give a lower end (one less, in case the division rounded up); every
         * condition only gets truer as the count rises (the p-value falls with the baseline's count
         * fixed), so the first degraded count at or above it is the bound */
        need =
                ceil(params->min_error_ratio * (double)baseline->errors * (double)window /
                     (double)baseline->window);
        if (!(need < (double)MAX_EXACT))
                return -ERANGE;
        lo = u64_max(u64_max(need >= 1 ? (uint64_t)need - 1 : 0, params->min_errors), 1);
        for (hi = lo; !errors_degraded(hi, window, baseline->errors, baseline->window, params, NULL);
             hi *= 2) {
                lo = hi + 1;
                if (hi >= MAX_EXACT / 2)
                        return -ERANGE;
        }
        while (lo < hi) { /* the first degraded count in [lo, hi] */
                uint64_t mid = lo + (hi - lo) / 2;

                if (errors_degraded(mid, window, baseline->errors, baseline->window, params, NULL))
                        hi = mid;
                else
                        lo = mid + 1;
        }
        *ret = lo;
        return 0;
}

static int judge_errors(
        const WatchBaseline *b, const WatchSample *s, size_t n, const WatchParams *p, WatchVerdict *v) {
        _cleanup_free_ uint64_t *cum = NULL;
        uint64_t last = 0, total = 0, k = 0;
        size_t start = SIZE_MAX, latest = SIZE_MAX; /* start: the sample the window opens at; none: t = 0 */
        usec_t window = 0;

        verdict_init(v);
        if (b->window == 0 || b->errors == WATCH_UNKNOWN)
                return 0;
        v->baseline = (double)b->errors / ((double)b->window / (double)USEC_PER_MINUTE);

        cum = calloc(n > 0 ? n : 1, sizeof(uint64_t));
        if (!cum)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (s[i].errors == WATCH_UNKNOWN)
                        continue;
                total += counter_increase(&last, s[i].errors);
                cum[i] = total;
                latest = i;

                /* the window: the last b->window of the watch, from the latest sample old enough */
                for (size_t j = start == SIZE_MAX ? 0 : start + 1; j < i; j++) {
                        if (s[j].errors == WATCH_UNKNOWN)
                                continue;
                        if (s[i].usec - s[j].usec < b->window)
                                break;
                        start = j;
                }
                window = s[i].usec - (start == SIZE_MAX ? 0 : s[start].usec);
                k = total - (start == SIZE_MAX ? 0 : cum[start]);
                if (window == 0) { /* nothing observed yet */
                        if (v->state == WATCH_UNKNOWN_STATE)
                                v->state = WATCH_OK;
                        v->firing = false;
                        continue;
                }
                verdict_step(v, errors_degraded(k, window, b->errors, b->window, p, NULL), i, s[i].usec);
        }
        if (latest == SIZE_MAX)
                return 0;
        v->count = k;
        v->window = window;
        if (window > 0) {
                uint64_t bound;

                v->value = (double)k / ((double)window / (double)USEC_PER_MINUTE);
                (void)errors_degraded(k, window, b->errors, b->window, p, &v->p);
                if (watchrules_error_bound(b, window, p, &bound) >= 0) {
                        v->bound = bound;
                        v->threshold = (double)bound / ((double)window / (double)USEC_PER_MINUTE);
                }
        }
        return 0;
}

static void judge_runs(
        const WatchBaseline *b, const WatchSample *s, size_t n, const WatchParams *p, WatchVerdict *v) {
        uint64_t last_ok = 0, last_failed = 0, ok = 0, failed = 0;
        double reference = 1;

        verdict_init(v);
        if (b->runs_succeeded != WATCH_UNKNOWN && b->runs_failed != WATCH_UNKNOWN &&
            b->runs_succeeded + b->runs_failed >= p->min_runs && b->runs_succeeded + b->runs_failed > 0)
                reference = (double)b->runs_succeeded / (double)(b->runs_succeeded + b->runs_failed);
        v->baseline = reference * 100;
        v->threshold = v->baseline - p->success_drop;

        for (size_t i = 0; i < n; i++) {
                double line = v->threshold / 100, pv = NAN;
                uint64_t finished;
                bool holds = false;

                if (s[i].runs_succeeded == WATCH_UNKNOWN || s[i].runs_failed == WATCH_UNKNOWN)
                        continue;
                ok += counter_increase(&last_ok, s[i].runs_succeeded);
                failed += counter_increase(&last_failed, s[i].runs_failed);
                finished = ok + failed;
                if (finished > 0 && line > 0) {
                        /* S <= ok at the line is F >= failed at 1 - line */
                        pv = watchrules_binomial_tail(failed, finished, 1 - line);
                        holds = finished >= p->min_runs && (double)ok < line * (double)finished &&
                                pv < p->alpha;
                }
                verdict_step(v, holds, i, s[i].usec);
                v->count = finished;
                v->value = finished > 0 ? 100.0 * (double)ok / (double)finished : NAN;
                v->p = pv;
        }
}

static void judge_lag(
        const WatchBaseline *b, const WatchSample *s, size_t n, const WatchParams *p, WatchVerdict *v) {
        size_t streak = 0;

        verdict_init(v);
        v->baseline = b->lag;
        v->threshold = p->max_lag;
        for (size_t i = 0; i < n; i++) {
                if (isnan(s[i].lag))
                        continue;
                if (s[i].lag > p->max_lag) {
                        streak++;
                        v->count++;
                } else
                        streak = 0;
                verdict_step(v, streak >= p->lag_samples, i, s[i].usec);
                v->value = s[i].lag;
                v->peak = isnan(v->peak) ? s[i].lag : fmax(v->peak, s[i].lag);
        }
}

static void judge_memory(
        const WatchBaseline *b, const WatchSample *s, size_t n, const WatchParams *p, WatchVerdict *v) {
        double prev = NAN, settle_peak = NAN;
        Fit f = {};

        verdict_init(v);
        v->baseline = b->memory_max == WATCH_UNKNOWN ? NAN : (double)b->memory_max;
        v->threshold = p->memory_growth;
        for (size_t i = 0; i < n; i++) {
                double x, slope, se, reference = v->baseline, pv = NAN;
                bool holds = false;

                if (s[i].memory == WATCH_UNKNOWN)
                        continue;
                x = (double)s[i].memory;
                fit_add(&f, (double)s[i].usec / (double)USEC_PER_DAY, x);
                if (s[i].usec <= p->memory_settle)
                        settle_peak = isnan(settle_peak) ? x : fmax(settle_peak, x);
                else if (!isnan(settle_peak))
                        reference = isnan(reference) ? settle_peak : fmax(reference, settle_peak);
                v->level = isnan(prev) ? x : fmin(prev, x);
                v->peak = isnan(v->peak) ? x : fmax(v->peak, x);
                prev = x;

                if (fit_get(&f, &slope, NULL, &se) >= 0) {
                        v->value = slope;
                        if (f.n > 2)
                                pv = se > 0 ? watchrules_t_tail((slope - p->memory_growth) / se, f.n - 2)
                                            : (slope > p->memory_growth ? 0 : 1);
                }
                holds = f.n >= p->min_memory_samples && !isnan(reference) &&
                        v->level > reference * (1 + p->memory_margin) && v->value > p->memory_growth &&
                        pv < p->memory_alpha;
                verdict_step(v, holds, i, s[i].usec);
                v->count = f.n;
                v->p = pv;
                v->reference = reference;
        }
}

int watchrules_evaluate(
        const WatchBaseline *baseline,
        const WatchSample *samples,
        size_t n,
        const WatchParams *params,
        WatchVerdicts *ret) {
        WatchVerdicts v;
        int r, degraded = 0;

        if (!baseline || !ret || !params_valid(params) || (n > 0 && !samples))
                return -EINVAL;
        for (size_t i = 1; i < n; i++)
                if (samples[i].usec < samples[i - 1].usec)
                        return -EINVAL;

        r = judge_errors(baseline, samples, n, params, &v.signal[WATCH_ERRORS]);
        if (r < 0)
                return r;
        judge_runs(baseline, samples, n, params, &v.signal[WATCH_RUNS]);
        judge_lag(baseline, samples, n, params, &v.signal[WATCH_LAG]);
        judge_memory(baseline, samples, n, params, &v.signal[WATCH_MEMORY]);

        for (size_t i = 0; i < _WATCH_SIGNAL_MAX; i++) {
                if (v.signal[i].state == WATCH_DEGRADED)
                        degraded++;
                if (i != WATCH_ERRORS) /* the errors' own window is set by their rule */
                        v.signal[i].window = n > 0 ? samples[n - 1].usec : 0;
        }
        *ret = v;
        return degraded;
}

WatchState watchrules_overall(const WatchVerdicts *v) {
        WatchState s = WATCH_UNKNOWN_STATE;

        for (size_t i = 0; i < _WATCH_SIGNAL_MAX; i++) {
                if (v->signal[i].state == WATCH_DEGRADED)
                        return WATCH_DEGRADED;
                if (v->signal[i].state == WATCH_OK)
                        s = WATCH_OK;
        }
        return s;
}

/* ---- sparkline ---- */

int watchrules_sparkline(const double *v, size_t n, size_t width, char *buf, size_t bufsz) {
        static const char *const blocks[8] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
        _cleanup_free_ double *cell = NULL;
        size_t cells = n < width ? n : width, len = 0;
        double lo = INFINITY, hi = -INFINITY;

        if (cells > 0 && !v)
                return -EINVAL;
        cell = calloc(cells > 0 ? cells : 1, sizeof(double));
        if (!cell)
                return -ENOMEM;
        for (size_t c = 0; c < cells; c++) {
                size_t from = c * n / cells, to = (c + 1) * n / cells, m = 0;
                double sum = 0;

                for (size_t i = from; i < to; i++)
                        if (isfinite(v[i]))
                                m++;
                /* the mean as a sum of shares: a sum of values near DBL_MAX (a lag read from /metrics)
                 * would overflow to infinity */
                for (size_t i = from; i < to; i++)
                        if (isfinite(v[i]))
                                sum += v[i] / (double)m;
                cell[c] = m > 0 ? sum : NAN;
                if (m > 0) {
                        lo = fmin(lo, cell[c]);
                        hi = fmax(hi, cell[c]);
                }
                len += m > 0 ? strlen(blocks[0]) : 1;
        }
        if (!buf || len >= bufsz)
                return -ENOBUFS;

        len = 0;
        for (size_t c = 0; c < cells; c++) {
                const char *s = " ";

                /* halves, so that hi - lo stays finite for any finite lo and hi; the index is clamped
                 * rather than trusted, since it picks an array element */
                if (!isnan(cell[c])) {
                        double at = hi > lo ? (cell[c] / 2 - lo / 2) / (hi / 2 - lo / 2) * 7 : 0;
                        s = blocks[at >= 0 && at <= 7 ? (size_t)lround(at) : at > 7 ? 7 : 0];
                }
                memcpy(buf + len, s, strlen(s));
                len += strlen(s);
        }
        buf[len] = 0;
        return (int)len;
}

int watchrules_figures(const double *v, size_t n, size_t max, char *buf, size_t bufsz) {
        size_t from = n > max ? n - max : 0, len = 0;
        int w;

        if (!buf || bufsz == 0)
                return -ENOBUFS;
        buf[0] = 0;
        if (from > 0) {
                w = snprintf(buf, bufsz, "… ");
                if (w < 0 || (size_t)w >= bufsz)
                        return -ENOBUFS;
                len = (size_t)w;
        }
        for (size_t i = from; i < n; i++) {
                w = isfinite(v[i]) ? snprintf(buf + len, bufsz - len, "%s%.3g", i > from ? " " : "", v[i])
                                   : snprintf(buf + len, bufsz - len, "%s-", i > from ? " " : "");
                if (w < 0 || (size_t)w >= bufsz - len)
                        return -ENOBUFS;
                len += (size_t)w;
        }
        return (int)len;
}
