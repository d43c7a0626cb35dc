/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* metrics.h: what [Notify] MetricsFile= holds for Prometheus (docs/architecture.md, "Metrics"): one
 * deployment's upgrades as samples of the text exposition format, for node_exporter's textfile collector.
 * Pure: the caller reads the state (helpers/shared/metrics-file.c) and writes the text.
 *
 * Every sample carries deployment="<name>". The metrics:
 *   codebolt_upgrade_info{version}                       1: the version the deployment runs
 *   codebolt_upgrade_last_result{from,to,result}         1: the newest ledger entry's result
 *   codebolt_upgrade_last_timestamp_seconds              when that entry ended (Unix time)
 *   codebolt_upgrade_downtime_seconds                    how long the server was down in it
 *   codebolt_upgrade_phase_duration_seconds{phase}       how long each of its phases took
 *   codebolt_upgrade_in_progress                         1 while an upgrade or rollback is in flight
 *   codebolt_upgrade_held                                1 while an upgrade is held (finish by hand)
 *   codebolt_upgrade_auto_on_hold                        1 while `codebolt-upgrade hold` pauses the timer
 *   codebolt_upgrade_watch_verdict{verdict}              1 on the watch's verdict of the newest success,
 *                                                        0 on the others it may take
 * A figure the state does not hold (no ledger yet, an entry without a downtime) is left out, never
 * written as 0. */
#pragma once

#include <stdbool.h>
#include <cjson/cJSON.h>

typedef struct MetricsState {
        const char *deployment;
        const char *version; /* the release the current link points at; NULL: unknown */
        const cJSON *last;   /* the newest ledger entry (ledger.h), or NULL */
        bool in_progress;    /* current.json is there and not held */
        bool held;
        bool auto_on_hold;
        const char *watch; /* the "watch" of the newest succeeded entry ("running", "ok", …), or NULL */
} MetricsState;

/* the verdicts codebolt_upgrade_watch_verdict always lists (another one read from the ledger is added) */
extern const char *const metrics_watch_verdicts[];

/* The text for s, newline-terminated, into *ret (malloc'd). -ENOMEM only. */
int metrics_render(const MetricsState *s, char **ret);
