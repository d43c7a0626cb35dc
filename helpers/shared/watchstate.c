/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* watchstate.c: the post-upgrade watch's baseline, readings, state file, ledger verdict and status */
#define _GNU_SOURCE
#include <float.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "checks.h"
#include "config.h"
#include "prune.h"
#include "server.h"
#include "current.h"
#include "http.h"
#include "journal.h"
#include "helper.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "message-ids.h"
#include "paths.h"
#include "promtext.h"
#include "state.h"
#include "time-util.h"
#include "unitname.h"
#include "watchstate.h"

/* the counts a double still holds exactly */
#define MAX_COUNT (INT64_C(1) << 53)

/* a count from /metrics; a negative, fractional, infinite or huge one is malformed: unknown, which no
 * rule takes for a good reading */
static uint64_t metric_count(const char *text, const char *name, const char *labels) {
        int64_t n;
        double v;

        if (promtext_value(text, name, labels, &v) < 0 || json_number_to_int64(v, 0, MAX_COUNT, &n) < 0)
                return WATCH_UNKNOWN;
        return (uint64_t)n;
}

int watch_read_server(const Config *c, sd_bus *bus, WatchReading *ret) {
        _cleanup_http_response_ HttpResponse resp = {};
        _cleanup_free_ char *url = NULL;
        WatchReading r = {
                .errors_total = WATCH_UNKNOWN,
                .runs_succeeded = WATCH_UNKNOWN,
                .runs_failed = WATCH_UNKNOWN,
                .lag = NAN,
                .memory = WATCH_UNKNOWN,
        };
        uint64_t memory;
        double v;

        url = helper_server_url_config(c, "/metrics");
        if (!url)
                return -ENOMEM;
        if (http_request("GET", url, NULL, NULL, 10 * USEC_PER_SEC, &resp, NULL) >= 0 &&
            resp.status == 200) {
                r.errors_total = metric_count(resp.body, "codebolt_errors_total", NULL);
                r.runs_succeeded =
                        metric_count(resp.body, "codebolt_agent_runs_total", "result=\"succeeded\"");
                r.runs_failed = metric_count(resp.body, "codebolt_agent_runs_total", "result=\"failed\"");
                /* +Inf seconds is behind beyond any MaxLag=: the largest double keeps it so through
                 * watch.json, where JSON has no infinity; a negative lag or NaN is malformed: unknown */
                if (promtext_value(resp.body, "codebolt_event_ingest_lag_seconds", NULL, &v) >= 0 && v >= 0)
                        r.lag = fmin(v, DBL_MAX);
                r.memory = metric_count(resp.body, "process_resident_memory_bytes", NULL);
                if (r.memory != WATCH_UNKNOWN)
                        r.memory_source = "process_resident_memory_bytes";
        }
        /* the unit's whole control group, what the host pays for, is the better reading */
        if (bus && bus_unit_get_memory_current(bus, c->server_unit, &memory) >= 0) {
                r.memory = memory;
                r.memory_source = "MemoryCurrent";
        }
        *ret = r;
        return 0;
}

int watch_count_errors(
        const Config *c, usec_t since, const char *after_cursor, uint64_t *ret, char **ret_cursor) {
        regex_t re;
        bool have_re = false;
        int r;

        /* config_load() compiled ErrorPattern= already: it does not fail here */
        if (c->error_pattern && *c->error_pattern)
                have_re = journal_compile_error_pattern(c->error_pattern, &re) >= 0;
        r = journal_count_errors(
                NULL, c->server_unit, since, after_cursor, have_re ? &re : NULL, ret, ret_cursor);
        if (have_re)
                regfree(&re);
        return r;
}

static int add_count(cJSON *o, const char *key, uint64_t v) {
        if (v == WATCH_UNKNOWN)
                return 0;
        return cJSON_AddNumberToObject(o, key, (double)v) ? 0 : -ENOMEM;
}

static int baseline_reading(const Config *c, BaselineCapture *b) {
        WatchReading reading = {};
        int r;

        r = watch_read_server(c, b->bus, &reading);
        if (r < 0)
                return r;
        b->last_at = now_monotonic();
        b->readings++;
        if (reading.memory != WATCH_UNKNOWN &&
            (b->memory_max == WATCH_UNKNOWN || reading.memory > b->memory_max ||
             !streq_ptr(b->memory_source, reading.memory_source))) {
                b->memory_max = reading.memory;
                b->memory_source = reading.memory_source;
        }
        if (isfinite(reading.lag) && !(reading.lag <= b->lag))
                b->lag = reading.lag;
        b->last = reading;
        return 0;
}

int watch_baseline_begin(const Config *c, BaselineCapture *b) {
        int r;

        *b = (BaselineCapture){ .errors = WATCH_UNKNOWN, .memory_max = WATCH_UNKNOWN, .lag = NAN };
        b->taken = current_timestamp();
        if (!b->taken)
                return -ENOMEM;
        r = watch_count_errors(c, now_realtime() - c->watch_baseline_window, NULL, &b->errors, NULL);
        if (r < 0) {
                log_warning_errno(
                        r,
                        "Cannot count the errors in the journal of %s for the baseline: %m",
                        c->server_unit);
                b->errors = WATCH_UNKNOWN;
        }
        if (bus_open_system(&b->bus) < 0)
                b->bus = NULL;
        return baseline_reading(c, b);
}

int watch_baseline_read(const Config *c, BaselineCapture *b) {
        if (b->readings >= WATCH_BASELINE_READINGS || now_monotonic() < b->last_at + USEC_PER_SEC)
                return 0;
        return baseline_reading(c, b);
}

int watch_baseline_end(const Config *c, BaselineCapture *b, cJSON **ret) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();
        int r;

        if (!o)
                return -ENOMEM;
        while (b->readings < WATCH_BASELINE_READINGS) {
                usec_t now = now_monotonic();

                if (now < b->last_at + USEC_PER_SEC)
                        (void)usleep(b->last_at + USEC_PER_SEC - now);
                r = baseline_reading(c, b);
                if (r < 0)
                        return r;
        }
        if (!cJSON_AddStringToObject(o, "taken", b->taken) ||
            !cJSON_AddNumberToObject(
                    o, "window_seconds", (double)(c->watch_baseline_window / USEC_PER_SEC)) ||
            add_count(o, "errors", b->errors) < 0 ||
            add_count(o, "errors_total", b->last.errors_total) < 0 ||
            add_count(o, "runs_succeeded", b->last.runs_succeeded) < 0 ||
            add_count(o, "runs_failed", b->last.runs_failed) < 0 ||
            add_count(o, "memory_max", b->memory_max) < 0 ||
            (b->memory_source && !cJSON_AddStringToObject(o, "memory_source", b->memory_source)) ||
            (isfinite(b->lag) && !cJSON_AddNumberToObject(o, "lag", b->lag)))
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

void watch_baseline_done(BaselineCapture *b) {
        b->bus = sd_bus_flush_close_unref(b->bus);
        free(b->taken);
        b->taken = NULL;
}

int watch_timer_enable(sd_bus *bus, const char *deployment, const char *timer, bool enable) {
        _cleanup_free_ char *link = NULL, *target = NULL, *template = NULL;
        const char *at;
        int r;

        if (config_deployment_is_default(deployment))
                return enable ? bus_enable_unit_file(bus, timer) : bus_disable_unit_file(bus, timer);

        /* codebolt-upgrade-watch-<name>@X.timer is the generator's (in /run): systemd refuses to enable a
         * generated unit, so the link systemctl enable would make is made here */
        at = strchr(timer, '@');
        if (!at)
                return -EINVAL;
        if (asprintf(&template, "%.*s@.timer", (int)(at - timer), timer) < 0 ||
            asprintf(&target, "/run/systemd/generator/%s", template) < 0)
                return -ENOMEM;
        link = paths_rooted("/etc/systemd/system/timers.target.wants");
        if (!link)
                return -ENOMEM;
        if (enable) {
                r = paths_mkdir_p(link, 0755);
                if (r < 0)
                        return r;
        }
        free(link);
        if (asprintf(&link, "%s/etc/systemd/system/timers.target.wants/%s", paths_root(), timer) < 0)
                return -ENOMEM;
        if (!enable)
                return unlink(link) < 0 && errno != ENOENT ? -errno : 0;
        if (symlink(target, link) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int watch_load(const char *deployment, cJSON **ret) {
        _cleanup_free_ char *path = paths_state_file(deployment, "watch.json");

        if (!path)
                return -ENOMEM;
        return state_read_json(path, ret);
}

int watch_save(const char *deployment, const cJSON *w) {
        _cleanup_free_ char *path = paths_state_file(deployment, "watch.json");

        if (!path)
                return -ENOMEM;
        return state_write_json_atomic(path, w, 0600);
}

void watch_params(const Config *c, WatchParams *ret) {
        watchrules_params_default(ret);
        ret->success_drop = c->watch_success_drop;
        ret->max_lag = (double)c->watch_max_lag / USEC_PER_SEC;
        ret->memory_growth = (double)c->watch_memory_growth;
}

static uint64_t json_count(const cJSON *o, const char *key) {
        int64_t n;

        return json_get_int64_range(o, key, 0, MAX_COUNT, &n) >= 0 ? (uint64_t)n : WATCH_UNKNOWN;
}

static double json_double(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

int watch_evaluate(const Config *c, const cJSON *w, WatchVerdicts *ret) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(w, "baseline"),
                    *samples = cJSON_GetObjectItemCaseSensitive(w, "samples"), *s;
        _cleanup_free_ WatchSample *v = NULL;
        WatchBaseline baseline = {
                .errors = json_count(b, "errors"),
                .window = json_count(b, "window_seconds") == WATCH_UNKNOWN
                                  ? 0
                                  : json_count(b, "window_seconds") * USEC_PER_SEC,
                .runs_succeeded = json_count(b, "runs_succeeded"),
                .runs_failed = json_count(b, "runs_failed"),
                .lag = json_double(b, "lag"),
                .memory_max = json_count(b, "memory_max"),
        };
        WatchParams params;
        size_t n = 0;

        watch_params(c, &params);
        v = calloc((size_t)cJSON_GetArraySize(samples) + 1, sizeof(WatchSample));
        if (!v)
                return -ENOMEM;
        cJSON_ArrayForEach (s, samples) {
                double t = json_double(s, "t");
                /* a time beyond usec_t is no sample time either */
                if (!isfinite(t) || t < 0 || t >= (double)(USEC_INFINITY / USEC_PER_SEC))
                        continue;
                v[n++] = (WatchSample){
                        .usec = (usec_t)(t * USEC_PER_SEC),
                        .errors = json_count(s, "errors"),
                        .runs_succeeded = json_count(s, "succeeded"),
                        .runs_failed = json_count(s, "failed"),
                        .lag = json_double(s, "lag"),
                        .memory = json_count(s, "memory"),
                };
        }
        return watchrules_evaluate(&baseline, v, n, &params, ret);
}

static char *span(usec_t t) {
        return checks_format_duration(t);
}

static char *mib(double bytes) {
        char *s;

        if (asprintf(&s, "%.1f MiB", bytes / (1024.0 * 1024.0)) < 0)
                return NULL;
        return s;
}

char *watch_describe(const WatchVerdicts *vs, WatchSignal s) {
        const WatchVerdict *v = &vs->signal[s];
        _cleanup_free_ char *window = span(v->window), *a = NULL, *b = NULL, *t = NULL;
        const char *state = watch_state_to_string(v->state);
        char *out = NULL;
        int r = 0;

        if (!window)
                return NULL;
        if (v->state == WATCH_UNKNOWN_STATE)
                r = asprintf(&out, "%s unknown: no reading yet", watch_signal_to_string(s));
        else
                switch (s) {
                case WATCH_ERRORS:
                        r = asprintf(
                                &out,
                                "errors %s: %" PRIu64
                                " in the last %s (%.2f/min; %.2f/min before); degraded at %" PRIu64
                                " or more in %s",
                                state,
                                v->count,
                                window,
                                isfinite(v->value) ? v->value : 0.0,
                                isfinite(v->baseline) ? v->baseline : 0.0,
                                v->bound,
                                window);
                        break;
                case WATCH_RUNS:
                        if (!isfinite(v->value))
                                r = asprintf(
                                        &out,
                                        "runs %s: %" PRIu64 " agent runs finished since the upgrade",
                                        state,
                                        v->count);
                        else
                                r = asprintf(
                                        &out,
                                        "runs %s: %.1f%% of %" PRIu64
                                        " agent runs succeeded (%.1f%% before); degraded below %.1f%%",
                                        state,
                                        v->value,
                                        v->count,
                                        isfinite(v->baseline) ? v->baseline : 100.0,
                                        isfinite(v->threshold) ? v->threshold : 0.0);
                        break;
                case WATCH_LAG:
                        r = asprintf(
                                &out,
                                "lag %s: %.0fs now, %.0fs at most (MaxLag= %.0fs); %" PRIu64
                                " readings above it",
                                state,
                                isfinite(v->value) ? v->value : 0.0,
                                isfinite(v->peak) ? v->peak : 0.0,
                                isfinite(v->threshold) ? v->threshold : 0.0,
                                v->count);
                        break;
                case WATCH_MEMORY:
                        a = mib(isfinite(v->level) ? v->level : 0);
                        b = mib(isfinite(v->baseline) ? v->baseline : 0);
                        t = mib(isfinite(v->value) ? v->value : 0);
                        if (!a || !b || !t)
                                return NULL;
                        r = asprintf(
                                &out,
                                "memory %s: %s now (%s at most before); trend %s per day over %" PRIu64
                                " readings",
                                state,
                                a,
                                b,
                                isfinite(v->value) ? t : "unknown",
                                v->count);
                        break;
                default:
                        return NULL;
                }
        if (r < 0)
                return NULL;
        if (v->state == WATCH_DEGRADED) {
                _cleanup_free_ char *since = span(v->since_usec), *with = NULL;
                if (!since || asprintf(&with, "%s, since %s into the watch", out, since) < 0) {
                        free(out);
                        return NULL;
                }
                free(out);
                out = TAKE_PTR(with);
        }
        return out;
}

int watch_ledger_set(const Config *c, const char *upgrade_id, const char *verdict, const char *detail) {
        _cleanup_json_ cJSON *ledger = NULL;
        cJSON *e, *found = NULL;
        int r;

        r = ledger_load(c->deployment, &ledger);
        if (r < 0)
                return r;
        cJSON_ArrayForEach (e, ledger)
                if (streq_ptr(json_get_string(e, "id"), upgrade_id) &&
                    streq_ptr(json_get_string(e, "result"), "succeeded"))
                        found = e;
        if (!found)
                return -ENOENT;
        if (json_set_string(found, "watch", verdict) < 0 ||
            (detail && json_set_string(found, "watch_detail", detail) < 0))
                return -ENOMEM;
        r = ledger_save(c->deployment, ledger);
        if (r < 0)
                return r;
        helper_export_ledger(c, ledger);
        return 0;
}

void watch_disarm(const char *deployment, const char *instance) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *timer = NULL, *result = NULL, *error = NULL;
        int r;

        if (unitname_deployment_name("codebolt-upgrade-watch", deployment, instance, ".timer", &timer) < 0) {
                log_oom();
                return;
        }
        r = bus_open_system(&bus);
        if (r >= 0) {
                r = watch_timer_enable(bus, deployment, timer, false);
                if (r < 0)
                        log_warning_errno(r, "Failed to disable %s: %m", timer);
                r = bus_stop_unit(bus, timer, USEC_INFINITY, &result, &error);
        }
        if (r < 0)
                log_warning_errno(r, "Failed to stop %s: %s", timer, error ?: strerror(-r));
}

int watch_end(const Config *c, cJSON *w, const char *reason) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *now = current_timestamp(), *detail = NULL;
        const char *instance = json_get_string(w, "instance"), *verdict;
        WatchVerdicts v = {};
        int r;

        if (!now || !instance)
                return -ENOMEM;
        r = watch_evaluate(c, w, &v);
        verdict = r > 0 || cJSON_GetObjectItemCaseSensitive(w, "degraded") ? "degraded" : "ok";
        /* a degraded verdict keeps the detail of what degraded */
        if (streq(verdict, "ok") &&
            asprintf(&detail, "no regression in %s of watching", strempty(json_get_string(w, "elapsed"))) <
                    0)
                return -ENOMEM;
        if (json_set_string(w, "state", "ended") < 0 || json_set_string(w, "verdict", verdict) < 0 ||
            json_set_string(w, "ended", now) < 0 || json_set_string(w, "end_reason", reason) < 0)
                return -ENOMEM;
        r = watch_save(c->deployment, w);
        if (r < 0)
                return log_error_errno(r, "Failed to write watch.json: %m");
        r = watch_ledger_set(c, json_get_string(w, "id"), verdict, detail);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to record the watch's verdict in the ledger: %m");
        {
                _cleanup_free_ char *f_verdict = NULL, *f_reason = NULL;
                if (asprintf(&f_verdict, "CODEBOLT_UPGRADE_WATCH_VERDICT=%s", verdict) < 0 ||
                    asprintf(&f_reason, "CODEBOLT_UPGRADE_WATCH_REASON=%s", reason) < 0)
                        return -ENOMEM;
                char *fields[] = { f_verdict, f_reason, NULL };
                log_event(
                        LOG_NOTICE,
                        MESSAGE_WATCH_ENDED,
                        fields,
                        "The watch after the upgrade to %s ended (%s): %s.",
                        strempty(json_get_string(w, "version")),
                        reason,
                        verdict);
        }

        watch_disarm(c->deployment, instance);
        return 0;
}

void watch_print_status(const Config *c, const cJSON *w) {
        const cJSON *samples = cJSON_GetObjectItemCaseSensitive(w, "samples"), *s;
        _cleanup_free_ double *series = NULL;
        static const char *const keys[_WATCH_SIGNAL_MAX] = { "errors", "failed", "lag", "memory" };
        WatchVerdicts v = {};
        size_t n = (size_t)cJSON_GetArraySize(samples);
        bool utf8 = helper_locale_is_utf8();
        int r;

        r = watch_evaluate(c, w, &v);
        printf("Watch:     after the upgrade to %s: %s%s (started %s, %s of %s, every %s)\n",
               strempty(json_get_string(w, "version")),
               streq_ptr(json_get_string(w, "state"), "ended") ? "ended, " : "",
               json_get_string(w, "verdict") ?: (r > 0 ? "degraded" : "ok so far"),
               strempty(json_get_string(w, "started")),
               strempty(json_get_string(w, "elapsed")),
               strempty(json_get_string(w, "period")),
               strempty(json_get_string(w, "interval")));
        if (json_get_string(w, "end_reason"))
                printf("           %s\n", json_get_string(w, "end_reason"));
        if (json_get_string(w, "auto_rollback"))
                printf("           automatic rollback: %s\n", json_get_string(w, "auto_rollback"));
        if (r < 0)
                return;
        series = calloc(n + 1, sizeof(double));
        if (!series)
                return;
        for (size_t k = 0; k < _WATCH_SIGNAL_MAX; k++) {
                _cleanup_free_ char *line = watch_describe(&v, (WatchSignal)k);
                char spark[4 * 40 + 1] = "";
                size_t i = 0;
                uint64_t previous = WATCH_UNKNOWN;

                /* errors and failed runs per interval, the others as read */
                cJSON_ArrayForEach (s, samples) {
                        double x = json_double(s, keys[k]);
                        if (k == WATCH_ERRORS || k == WATCH_RUNS) {
                                uint64_t count = json_count(s, keys[k]);

                                if (count == WATCH_UNKNOWN)
                                        x = NAN;
                                else {
                                        x = previous == WATCH_UNKNOWN || count < previous
                                                    ? 0
                                                    : (double)(count - previous);
                                        previous = count;
                                }
                        }
                        series[i++] = x;
                }
                /* a sparkline where the terminal takes UTF-8, else the last readings as figures */
                if ((utf8 ? watchrules_sparkline(series, i, 40, spark, sizeof(spark))
                          : watchrules_figures(series, i, 8, spark, sizeof(spark))) < 0)
                        spark[0] = 0;
                printf("  %-8s %s  %s\n", watch_signal_to_string((WatchSignal)k), spark, strempty(line));
        }
}
