/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* watch: one sample of the post-upgrade watch (codebolt-upgrade-watch[-<name>]@<instance>.service, run by
 * its timer every [Watch] Interval= for Period=). Reads the server's errors (its journal since the last
 * sample), agent run counters and lag (/metrics) and memory (MemoryCurrent), judges the whole series
 * against the baseline the upgrade took (watchrules.h), and acts on a newly degraded signal: a catalog
 * event naming the signal, the numbers and since when, the webhook, the ledger's watch verdict (which
 * the staging gate of a production host reads), and with [Watch] AutoRollback=yes, once, a minor late
 * rollback (never a restore). After Period= it records the final verdict and disarms its timer. */
#define _GNU_SOURCE
#include <math.h>
#include <regex.h>
#include <time.h>

#include "bus.h"
#include "checks.h"
#include "events.h"
#include "helper.h"
#include "current.h"
#include "journal.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "message-ids.h"
#include "paths.h"
#include "release.h"
#include "state.h"
#include "time-util.h"
#include "unitname.h"
#include "watchstate.h"

static int add_count(cJSON *o, const char *key, uint64_t v) {
        if (v == WATCH_UNKNOWN)
                return cJSON_AddNullToObject(o, key) ? 0 : -ENOMEM;
        return cJSON_AddNumberToObject(o, key, (double)v) ? 0 : -ENOMEM;
}

/* the errors of the server's journal since the last sample (since the watch began, the first time) */
static int count_errors(Helper *h, cJSON *w, usec_t started, uint64_t *ret) {
        _cleanup_free_ char *cursor = NULL;
        uint64_t n = 0, before = 0;
        int64_t total;
        int r;

        /* the running total this helper wrote: a value no count can be starts again from 0 */
        if (json_get_int64_range(w, "errors", 0, INT64_C(1) << 53, &total) >= 0)
                before = (uint64_t)total;

        r = watch_count_errors(&h->config, started, json_get_string(w, "cursor"), &n, &cursor);
        if (r < 0)
                return log_warning_errno(
                        r,
                        "Cannot read the journal of %s: errors unknown in this sample: %m",
                        h->config.server_unit);
        if (cursor && json_set_string(w, "cursor", cursor) < 0)
                return -ENOMEM;
        cJSON_DeleteItemFromObjectCaseSensitive(w, "errors");
        if (!cJSON_AddNumberToObject(w, "errors", (double)(before + n)))
                return -ENOMEM;
        *ret = before + n;
        return 0;
}

static int take_sample(Helper *h, cJSON *w, usec_t started, usec_t now) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        cJSON *samples = cJSON_GetObjectItemCaseSensitive(w, "samples"), *s;
        uint64_t errors = WATCH_UNKNOWN;
        WatchReading reading;
        int r;

        if (!cJSON_IsArray(samples)) {
                cJSON_DeleteItemFromObjectCaseSensitive(w, "samples");
                samples = cJSON_AddArrayToObject(w, "samples");
                if (!samples)
                        return -ENOMEM;
        }
        r = count_errors(h, w, started, &errors);
        if (r == -ENOMEM)
                return r;
        if (bus_open_system(&bus) < 0)
                bus = NULL;
        r = watch_read_server(&h->config, bus, &reading);
        if (r < 0)
                return r;

        s = cJSON_CreateObject();
        if (!s || !cJSON_AddItemToArray(samples, s))
                return cJSON_Delete(s), -ENOMEM;
        if (!cJSON_AddNumberToObject(s, "t", (double)(now - started) / USEC_PER_SEC) ||
            add_count(s, "errors", errors) < 0 || add_count(s, "succeeded", reading.runs_succeeded) < 0 ||
            add_count(s, "failed", reading.runs_failed) < 0 ||
            (isfinite(reading.lag) ? !cJSON_AddNumberToObject(s, "lag", reading.lag)
                                   : !cJSON_AddNullToObject(s, "lag")) ||
            add_count(s, "memory", reading.memory) < 0)
                return -ENOMEM;
        return 0;
}

/* the automatic rollback: a minor late rollback of this upgrade, once; never a restore */
static int auto_rollback(Helper *h, cJSON *w, const char *why) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *why_restore;
        _cleanup_free_ char *unit = NULL, *flag = paths_rollback_reason_flag(h->config.deployment),
                            *text = NULL, *result = NULL, *error = NULL, *note = NULL,
                            *rundir = paths_rooted("/run/codebolt-upgrade");
        int r;

        if (!flag || !rundir ||
            unitname_deployment_unit("rollback", h->config.deployment, h->instance, &unit) < 0)
                return -ENOMEM;
        /* finish recorded why going back would be a restore, if it would */
        why_restore = json_get_string(w, "restore_reason");
        if (why_restore) {
                log_warning(
                        "[Watch] AutoRollback=yes, but going back from the upgrade to %s would be a "
                        "restore (%s), which discards what was written since, and the watch never does "
                        "that. Decide by hand: systemctl start %s (codebolt-upgrade rollback %s "
                        "--discard-since for the restore).",
                        h->version,
                        why_restore,
                        unit,
                        h->version);
                if (asprintf(&note, "not done: only a restore could go back (%s)", why_restore) < 0)
                        return -ENOMEM;
                return json_set_string(w, "auto_rollback", note);
        }
        if (asprintf(&text, "%s\nby the watch ([Watch] AutoRollback=yes): %s\n", h->version, why) < 0)
                return -ENOMEM;
        r = paths_mkdir_p(rundir, 0755);
        if (r >= 0)
                r = state_write_string_atomic(flag, text, 0600);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", flag);
        if (json_set_string(w, "auto_rollback", "started") < 0)
                return -ENOMEM;
        r = watch_save(h->config.deployment, w);
        if (r < 0)
                return log_error_errno(r, "Failed to write watch.json: %m");

        /* the rollback takes the state lock itself */
        helper_unlock(h);
        log_notice(
                "[Watch] AutoRollback=yes: rolling the upgrade to %s back (%s): starting %s.",
                h->version,
                why,
                unit);
        r = bus_open_system(&bus);
        if (r >= 0)
                r = bus_start_unit(bus, unit, USEC_INFINITY, &result, &error);
        if (r >= 0)
                r = bus_job_result_to_errno(result);
        if (asprintf(&note,
                     r >= 0 ? "rolled back (%s: %s)" : "failed (%s: %s)",
                     unit,
                     r >= 0 ? "done" : (error ?: result ?: strerror(-r))) < 0)
                return -ENOMEM;
        if (r < 0)
                log_error_errno(
                        r,
                        "The automatic rollback of the upgrade to %s failed: %s; see journalctl -u %s",
                        h->version,
                        note,
                        unit);
        else
                log_notice("The automatic rollback of the upgrade to %s is done.", h->version);
        r = helper_lock(h);
        if (r < 0)
                return r;
        return json_set_string(w, "auto_rollback", note);
}

/* act on each signal that is degraded now and was not before */
static int report_degraded(Helper *h, cJSON *w, const WatchVerdicts *v, char **ret_first) {
        cJSON *degraded = cJSON_GetObjectItemCaseSensitive(w, "degraded");
        _cleanup_free_ char *now = current_timestamp();
        int r;

        if (!now)
                return -ENOMEM;
        for (size_t k = 0; k < _WATCH_SIGNAL_MAX; k++) {
                const char *name = watch_signal_to_string((WatchSignal)k);
                _cleanup_free_ char *detail = NULL, *f_signal = NULL, *f_detail = NULL, *f_from = NULL;
                _cleanup_json_ cJSON *fields = NULL;
                cJSON *entry;

                if (v->signal[k].state != WATCH_DEGRADED || cJSON_GetObjectItemCaseSensitive(degraded, name))
                        continue;
                detail = watch_describe(v, (WatchSignal)k);
                if (!detail)
                        return -ENOMEM;
                if (!degraded) {
                        degraded = cJSON_AddObjectToObject(w, "degraded");
                        if (!degraded)
                                return -ENOMEM;
                }
                entry = cJSON_AddObjectToObject(degraded, name);
                if (!entry || !cJSON_AddStringToObject(entry, "since", now) ||
                    !cJSON_AddStringToObject(entry, "detail", detail))
                        return -ENOMEM;

                if (asprintf(&f_signal, "CODEBOLT_UPGRADE_WATCH_SIGNAL=%s", name) < 0 ||
                    asprintf(&f_detail, "CODEBOLT_UPGRADE_WATCH_DETAIL=%s", detail) < 0 ||
                    asprintf(&f_from, "CODEBOLT_UPGRADE_FROM=%s", strempty(json_get_string(w, "from"))) < 0)
                        return -ENOMEM;
                char *event_fields[] = { f_signal, f_detail, f_from, NULL };
                log_event(
                        LOG_WARNING,
                        MESSAGE_WATCH_DEGRADED,
                        event_fields,
                        "Codebolt %s is degraded after the upgrade from %s: %s",
                        h->version,
                        strempty(json_get_string(w, "from")),
                        detail);

                r = watch_ledger_set(&h->config, json_get_string(w, "id"), "degraded", detail);
                if (r < 0)
                        log_warning_errno(r, "Failed to record the degraded watch in the ledger: %m");

                fields = cJSON_CreateObject();
                if (!fields || !cJSON_AddStringToObject(fields, "signal", name) ||
                    !cJSON_AddStringToObject(fields, "detail", detail))
                        return -ENOMEM;
                helper_notify(h, "watch-degraded", fields);
                if (!*ret_first)
                        *ret_first = TAKE_PTR(detail);
        }
        return 0;
}

static int run(Helper *h) {
        _cleanup_json_ cJSON *w = NULL;
        _cleanup_(current_done) Current current = {};
        _cleanup_free_ char *running = NULL, *elapsed_s = NULL, *first = NULL;
        int64_t period_s;
        usec_t started, now, period;
        WatchVerdicts v = {};
        int r, n_degraded;

        r = helper_lock(h);
        if (r < 0)
                return r;
        r = watch_load(h->config.deployment, &w);
        if (r == -ENOENT || (r >= 0 && (!streq_ptr(json_get_string(w, "instance"), h->instance) ||
                                        streq_ptr(json_get_string(w, "state"), "ended")))) {
                log_notice(
                        "No watch of the upgrade to %s is running on deployment %s (it ended, or a newer "
                        "upgrade took its place): disarming its timer.",
                        h->version,
                        h->config.deployment);
                watch_disarm(h->config.deployment, h->instance);
                return 0;
        }
        if (r < 0)
                return log_error_errno(
                        r, "Failed to read watch.json of deployment %s: %m", h->config.deployment);

        /* an upgrade or rollback in flight changes the server under us: no sample now */
        /* one whose current.json cannot be read (a wrongly typed key) is in flight all the same */
        r = current_load(h->config.deployment, &current, NULL);
        if (r >= 0 || r == -EBADMSG || r == -ERANGE) {
                log_info(
                        "An upgrade or rollback is in flight on deployment %s (to %s, phase %s): no sample "
                        "now.",
                        h->config.deployment,
                        strempty(current.to),
                        strempty(current.phase));
                return 0;
        }
        if (release_current_version(&running) >= 0 && !streq(running, h->version))
                return watch_end(&h->config, w, "the version no longer runs (rolled back or replaced)");

        if (checks_parse_timestamp(json_get_string(w, "started"), &started) < 0)
                return log_error_errno(
                        EBADMSG,
                        "watch.json of deployment %s has no valid start time.",
                        h->config.deployment);
        now = now_realtime();
        if (now < started)
                now = started;
        r = json_get_int64_range(
                w, "period_seconds", 0, (int64_t)(USEC_INFINITY / USEC_PER_SEC) - 1, &period_s);
        if (r == -ENOENT)
                period = h->config.watch_period;
        else if (r < 0)
                return log_error_errno(
                        r,
                        "watch.json of deployment %s has a malformed period_seconds: not a whole number of "
                        "seconds in range.",
                        h->config.deployment);
        else
                period = (usec_t)period_s * USEC_PER_SEC;

        r = take_sample(h, w, started, now);
        if (r < 0)
                return log_oom();
        elapsed_s = checks_format_duration((now - started) / USEC_PER_SEC * USEC_PER_SEC);
        if (!elapsed_s || json_set_string(w, "elapsed", elapsed_s) < 0)
                return log_oom();

        n_degraded = watch_evaluate(&h->config, w, &v);
        if (n_degraded < 0)
                return log_error_errno(n_degraded, "Cannot judge the samples: %m");
        r = report_degraded(h, w, &v, &first);
        if (r < 0)
                return log_oom();
        for (size_t k = 0; k < _WATCH_SIGNAL_MAX; k++) {
                _cleanup_free_ char *line = watch_describe(&v, (WatchSignal)k);
                log_info("watch %s, %s in: %s", h->version, elapsed_s, strempty(line));
        }
        log_status(
                "watch: %s, %s of %s: %s",
                h->version,
                elapsed_s,
                strempty(json_get_string(w, "period")),
                n_degraded > 0 ? "degraded" : "ok");

        if (first && h->config.watch_auto_rollback && !json_get_string(w, "auto_rollback")) {
                r = auto_rollback(h, w, first);
                if (r == -ENOMEM)
                        return log_oom();
                r = watch_save(h->config.deployment, w);
                if (r < 0)
                        return log_error_errno(r, "Failed to write watch.json: %m");
                /* the version that runs now is the one it went back to: that ends this watch */
                _cleanup_free_ char *after = NULL;
                if (release_current_version(&after) >= 0 && !streq(after, h->version))
                        return watch_end(&h->config, w, "rolled back by the watch");
                return 0;
        }

        if (now - started >= period)
                return watch_end(&h->config, w, "its period is over");
        r = watch_save(h->config.deployment, w);
        if (r < 0)
                return log_error_errno(r, "Failed to write watch.json: %m");
        return 0;
}

int main(int argc, char *argv[]) {
        return helper_main(argc, argv, "watch", HELPER_NO_CURRENT, run);
}
