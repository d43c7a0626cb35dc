/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* watchrules.h: the verdicts of the post-upgrade watch. Pure: the caller reads the journal,
 * /metrics and MemoryCurrent; this takes the numbers and says, per signal, ok or degraded and why.
 *
 * Time is usec since the watch began (the new version's start, the end of the upgrade); samples come in
 * that order. Every signal is judged on each prefix of the series in turn, and a signal that was
 * degraded at sample i stays degraded (`since` = i) whatever follows: any longer prefix gives the same
 * `since`, so a watch run every Interval= never moves or forgets a finding.
 * `firing` says whether the rule still holds at the latest sample.
 *
 * errors: counts are cumulative since the watch began (the journal's PRIORITY<=3 or ErrorPattern=
 *   lines, plus codebolt_errors_total's increase where exported); a decrease is taken as a counter
 *   reset (a server restart), as Prometheus does. The window judged at sample i is the last
 *   baseline.window of the watch (all of it while it is shorter), so a rise on day two is not drowned
 *   by a quiet day one, and a clump of lines in one interval (a stack trace, a database failover) that
 *   does not double the hour is not a regression; in the first minutes the window is short and the rule
 *   quick. Two Poisson rates are compared with the conditional test: given N = k_after + k_before
 *   errors in all, k_after ~ Binomial(N, T_after / (T_after + T_before)) if the rate did not change.
 *   Degraded when the one-sided p-value P(X >= k_after) < alpha (0.001), k_after >= min_errors (5) and
 *   the rate is at least min_error_ratio (2) times the baseline's. The p-value alone is not enough:
 *   against 0 errors in the baseline hour, 2 in the first 30 s give p = 7e-5; the floor keeps such tiny
 *   counts quiet, the ratio a release that is only slightly noisier (which a long window would make
 *   "significant"). Under Poisson noise this raised one false alarm in 1000 simulated 48 h watches (24
 *   errors in the first 10 min against 10 expected). watchrules_error_bound() turns the rule into the
 *   count status shows ("degraded at 15 errors in 5min" against 60 in the baseline's hour); against 0
 *   in an hour it is 5 errors up to a 20 min window, 7 in 30 min, 10 in an hour.
 * runs: codebolt_agent_runs_total{result="succeeded"|"failed"} are cumulative since the server's start
 *   (a decrease is a restart). The reference is the baseline's success rate when it has at least
 *   min_runs finished runs, and 100 % otherwise (a server with no history is expected to succeed;
 *   deciding from two or three old runs would be noise). Degraded when at least min_runs runs finished
 *   since the upgrade, their success rate is below reference - success_drop (10 points), and a
 *   one-sided binomial test says it is really below that line: P(S <= succeeded | finished, reference -
 *   success_drop) < alpha. So 1 failed of 3 is not flagged, nor 3 of 5 against 98 %; all of 5 failing
 *   is.
 * lag: codebolt_event_ingest_lag_seconds above max_lag (60 s) in lag_samples (2) consecutive readings
 *   (unknown readings are skipped, not counted as low). A single high reading is reported (count,
 *   peak), not degraded.
 * memory: the least-squares slope of the readings over time (bytes per day), with the one-sided t-test
 *   of slope > memory_growth (256 MiB/day) at memory_alpha (0.005) over at least min_memory_samples (4)
 *   readings: random noise, or a single high reading at the end, gives a slope but not a significant
 *   one (a version settling flat 10 % above the old peak with 2 % noise: 0.4 % of simulated watches
 *   flagged, 59 % without the test; 0.001 would make it 0.1 % but miss the 4th reading more often).
 *   That alone would flag the rising edge of every GC sawtooth, so the memory must also have left the
 *   level known to be normal: the lower of the last two readings must exceed the reference by
 *   memory_margin (5 %). The reference is the old version's highest reading (baseline.memory_max) and,
 *   once the watch is older than memory_settle (1 h), also the new version's own highest reading in
 *   that first hour (its warm-up and GC cycle). Without a baseline reading nothing is judged in the
 *   first hour. A sawtooth whose peaks stay level never passes its reference; a leak of 5 % of the old
 *   peak per interval, starting at the old level, is flagged at the 4th reading (2 %: by the 6th). Not
 *   flagged: a leak still below the old version's peak (and the first hour's) at the end of the watch;
 *   it uses no more memory than before.
 *
 * Unknown values: WATCH_UNKNOWN for counts and bytes, NaN for seconds. A signal none of whose samples
 * (or whose baseline, where one is needed) carries a value is WATCH_UNKNOWN_STATE; one with too little
 * data to judge yet is ok, with `count` saying how little. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "time-util.h"

#define WATCH_UNKNOWN UINT64_MAX /* as MemoryCurrent says "not set" */

typedef enum WatchState {
        WATCH_OK,
        WATCH_DEGRADED,
        WATCH_UNKNOWN_STATE,
        _WATCH_STATE_MAX,
} WatchState;

typedef enum WatchSignal {
        WATCH_ERRORS,
        WATCH_RUNS,
        WATCH_LAG,
        WATCH_MEMORY,
        _WATCH_SIGNAL_MAX,
} WatchSignal;

/* captured from the version still running, before the upgrade */
typedef struct WatchBaseline {
        uint64_t errors; /* errors counted over window; WATCH_UNKNOWN */
        usec_t window;   /* BaselineWindow= (1 h), less when the old server ran for less; 0: unknown */
        uint64_t runs_succeeded; /* the old server's counters since its start; WATCH_UNKNOWN */
        uint64_t runs_failed;
        double lag;          /* seconds, the highest seen; NaN. Shown, not compared: MaxLag= is absolute */
        uint64_t memory_max; /* bytes, the highest MemoryCurrent reading; WATCH_UNKNOWN */
} WatchBaseline;

/* one reading of the four signals, every Interval= */
typedef struct WatchSample {
        usec_t usec;             /* since the watch began; never decreasing */
        uint64_t errors;         /* cumulative since the watch began; WATCH_UNKNOWN */
        uint64_t runs_succeeded; /* cumulative since the server's start; WATCH_UNKNOWN */
        uint64_t runs_failed;
        double lag;      /* seconds; NaN */
        uint64_t memory; /* bytes; WATCH_UNKNOWN */
} WatchSample;

typedef struct WatchParams {
        double alpha;           /* errors and runs tests: 0.001 */
        uint64_t min_errors;    /* 5 */
        double min_error_ratio; /* 2 */
        double success_drop;    /* SuccessDrop=, percentage points: 10 */
        uint64_t min_runs;      /* finished runs before the rate is judged, after and in the baseline: 5 */
        double max_lag;         /* MaxLag=, seconds: 60 */
        size_t lag_samples;     /* consecutive readings above max_lag: 2 */
        double memory_growth;   /* MemoryGrowth=, bytes per day: 256 MiB */
        double memory_alpha;    /* the slope's t-test: 0.005 */
        size_t min_memory_samples; /* 4 */
        double memory_margin;      /* above the reference by this fraction: 0.05 */
        usec_t memory_settle;      /* 1 h */
} WatchParams;

/* The numbers of each signal, at the latest sample:
 *   errors: value errors/min over `window`; baseline errors/min; threshold `bound` over `window`, per
 *           min; count errors in `window`; p the conditional binomial test
 *   runs:   value success %; baseline the reference %; threshold reference - success_drop; count
 *           finished runs since the upgrade; p the binomial test against the threshold
 *   lag:    value the latest, s; baseline baseline.lag; threshold max_lag; count readings above it; no p
 *   memory: value the slope, bytes/day; baseline memory_max; threshold memory_growth; count readings;
 *           p the t-test of slope > threshold; `level` and `reference` the level test */
typedef struct WatchVerdict {
        WatchState state;
        bool firing;       /* the rule holds at the latest sample carrying the signal */
        size_t since;      /* degraded: the index of the first sample at which the rule held */
        usec_t since_usec; /* and its time */
        double value;
        double baseline;  /* NaN when unknown */
        double threshold; /* NaN when no comparison can be made yet */
        double p;         /* one-sided p-value; NaN where no test applies */
        uint64_t count;
        usec_t window;    /* errors: the window judged; the others: the time since the watch began */
        uint64_t bound;   /* errors: the smallest count that is degraded over window */
        double peak;      /* lag: the highest reading, s; memory: the highest reading, bytes */
        double level;     /* memory: the lower of the last two readings, bytes */
        double reference; /* memory: the level it must exceed by memory_margin, bytes; NaN: none yet */
} WatchVerdict;

typedef struct WatchVerdicts {
        WatchVerdict signal[_WATCH_SIGNAL_MAX];
} WatchVerdicts;

/* "ok", "degraded", "unknown" */
const char *watch_state_to_string(WatchState s);
/* "errors", "runs", "lag", "memory" */
const char *watch_signal_to_string(WatchSignal s);

/* the defaults above */
void watchrules_params_default(WatchParams *ret);

/* Judges every signal over samples[0..n). Returns the number of degraded signals (0 when all are ok or
 * unknown), -EINVAL for bad parameters, a sample time going backwards, or samples == NULL with n > 0,
 * -ENOMEM. *ret is written only on success. */
int watchrules_evaluate(
        const WatchBaseline *baseline,
        const WatchSample *samples,
        size_t n,
        const WatchParams *params,
        WatchVerdicts *ret);

/* degraded when any signal is, else ok when any is, else unknown */
WatchState watchrules_overall(const WatchVerdicts *v);

/* The smallest error count over `window` that the errors rule calls degraded against the baseline.
 * -EINVAL when window is 0 or the baseline unknown, -ERANGE when no count below 2^53 would be. */
int watchrules_error_bound(
        const WatchBaseline *baseline, usec_t window, const WatchParams *params, uint64_t *ret);

/* P(X >= k) for X ~ Binomial(n, p), summed in log space from the tail's largest term */
double watchrules_binomial_tail(uint64_t k, uint64_t n, double p);
/* P(T > t) for Student's t with df degrees of freedom (df > 0), via the regularized incomplete beta */
double watchrules_t_tail(double t, double df);

/* Ordinary least squares of y on x over the pairs where neither is NaN: y = intercept + slope * x.
 * *ret_slope_se is the slope's standard error (NaN with two points, 0 for a perfect fit); each ret may
 * be NULL. -EINVAL with fewer than two pairs or when all their x are equal. */
int watchrules_least_squares(
        const double *x,
        const double *y,
        size_t n,
        double *ret_slope,
        double *ret_intercept,
        double *ret_slope_se);

/* v[0..n) as a sparkline of ▁▂▃▄▅▆▇█ (UTF-8, three bytes each) scaled from the lowest to the highest
 * value. At most `width` cells: when n > width each cell is the mean of its share of the values, else
 * one cell per value (a series still growing is not stretched). NaN and infinities are a space (a cell
 * with no finite value); a constant series is all ▁, "no change" rather than a mid level that reads as
 * activity. Returns the bytes written without the NUL, -ENOBUFS when bufsz cannot hold them. */
int watchrules_sparkline(const double *v, size_t n, size_t width, char *buf, size_t bufsz);
/* The plain figures for a terminal that does not take UTF-8: the last `max` of v[0..n), "%.3g" each,
 * separated by spaces, "-" for a value that is not finite, "… " in front when some were left out.
 * Returns the bytes written without the NUL, -ENOBUFS when bufsz cannot hold them. */
int watchrules_figures(const double *v, size_t n, size_t max, char *buf, size_t bufsz);
