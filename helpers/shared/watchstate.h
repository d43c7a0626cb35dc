/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* watchstate.h: the post-upgrade watch (docs/architecture.md, "Phases": finish arms it): the baseline the
 * upgrade takes from the version still running, the readings of the server, watch.json in the deployment's
 * state directory, the verdict (watchrules.h) and what `codebolt-upgrade status` shows of it.
 *
 * watch.json: {"version", "instance", "id" (the upgrade's), "from", "restore_reason" (only when going back
 * would be a restore, current_restore_reason(): then there is no automatic rollback), "started" (ISO,
 * finish's time), "period_seconds", "interval_seconds", "baseline": {...}, "cursor" (the journal cursor
 * after the last error counted), "errors" (errors counted since "started"), "samples": [{"t" (seconds since
 * started), "errors", "succeeded", "failed", "lag", "memory"}], "state": "running"|"ended", "degraded":
 * {"<signal>": {"since", "detail"}}, "auto_rollback", "verdict", "ended", "end_reason"}. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <cjson/cJSON.h>

#include "config.h"
#include "time-util.h"
#include "watchrules.h"

/* one reading of the server; WATCH_UNKNOWN and NaN where it said nothing */
typedef struct WatchReading {
        uint64_t errors_total; /* codebolt_errors_total */
        uint64_t runs_succeeded, runs_failed;
        double lag;
        uint64_t memory;
        const char *memory_source; /* "MemoryCurrent" or "process_resident_memory_bytes" (static) */
} WatchReading;

/* /metrics and the server unit's MemoryCurrent (bus may be NULL: then only the metric); never fails but
 * on -ENOMEM, a signal that cannot be read stays unknown */
int watch_read_server(const Config *c, sd_bus *bus, WatchReading *ret);

/* The baseline, from the version still running (backup takes it before the downtime): the errors in its
 * journal over [Watch] BaselineWindow=, its agent run counters, lag, and the highest of
 * WATCH_BASELINE_READINGS memory readings at least a second apart (one reading may catch a low point of a
 * GC cycle). Taken in steps, so that the readings fall in between the backup's own work instead of
 * adding sleeps to it: begin (the errors, the first reading), read (one more, where the caller likes),
 * end (what is still missing, sleeping only for the spacing, then the JSON object for current.json and
 * the ledger; unknown signals are left out). */
#define WATCH_BASELINE_READINGS 3
typedef struct BaselineCapture {
        sd_bus *bus; /* NULL: no MemoryCurrent, only the metric */
        char *taken;
        uint64_t errors, memory_max;
        const char *memory_source;
        double lag;
        WatchReading last;
        unsigned readings;
        usec_t last_at; /* CLOCK_MONOTONIC of the last reading */
} BaselineCapture;

/* -ENOMEM only (what cannot be read stays unknown, with a warning for the journal's errors) */
int watch_baseline_begin(const Config *c, BaselineCapture *b);
/* one more reading if fewer than WATCH_BASELINE_READINGS were taken and a second passed since the last */
int watch_baseline_read(const Config *c, BaselineCapture *b);
int watch_baseline_end(const Config *c, BaselineCapture *b, cJSON **ret);
void watch_baseline_done(BaselineCapture *b);

/* the errors (journal_entry_is_error() with [Smoke] ErrorPattern=) in the server unit's journal after
 * after_cursor, or from since (CLOCK_REALTIME usec); see journal_count_errors() */
int watch_count_errors(
        const Config *c, usec_t since, const char *after_cursor, uint64_t *ret, char **ret_cursor);

/* Enable (or disable) the watch timer so that a boot starts it again (or not): a shipped template's
 * instance as systemctl enable does; an extra deployment's timer is generated, which systemd refuses
 * to enable, so its timers.target.wants link in /etc is made (removed) here. */
int watch_timer_enable(sd_bus *bus, const char *deployment, const char *timer, bool enable);

/* read watch.json of the deployment; -ENOENT when no watch was ever armed */
int watch_load(const char *deployment, cJSON **ret);
/* write watch.json of the deployment (atomically, mode 0600) */
int watch_save(const char *deployment, const cJSON *w);

/* WatchParams from [Watch] */
void watch_params(const Config *c, WatchParams *ret);
/* the verdicts over watch.json's samples */
int watch_evaluate(const Config *c, const cJSON *w, WatchVerdicts *ret);
/* one line: what the signal's verdict is and its numbers, e.g. "errors degraded: 12 in 1min (0.0/min
 * before); degraded above 5 in 1min" */
char *watch_describe(const WatchVerdicts *v, WatchSignal s);

/* Set the upgrade's ledger entry (by its id) "watch" to verdict, with "watch_detail" when detail is not
 * NULL, and write the public export. The caller holds the state lock. */
int watch_ledger_set(const Config *c, const char *upgrade_id, const char *verdict, const char *detail);

/* End the watch w (running): its verdict so far to the ledger and watch.json ("state": "ended", the
 * reason), then disable and stop its timer. The caller holds the state lock. */
int watch_end(const Config *c, cJSON *w, const char *reason);

/* disable and stop the watch timer of that upgrade: no further sample, and none after a boot; failures
 * are warnings */
void watch_disarm(const char *deployment, const char *instance);

/* `codebolt-upgrade status`: the watch, per signal its verdict, numbers and a sparkline */
void watch_print_status(const Config *c, const cJSON *w);
