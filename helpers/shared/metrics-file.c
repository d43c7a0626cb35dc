/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* metrics-file.c: [Notify] MetricsFile= written from the deployment's state (metrics-file.h) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "current.h"
#include "hold-file.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "metrics-file.h"
#include "metrics.h"
#include "paths.h"
#include "release.h"
#include "state.h"

char *metrics_file_path(const Config *c) {
        const char *file = c->notify_metrics_file;
        size_t stem;
        char *p;

        if (!file)
                return NULL;
        if (config_deployment_is_default(c->deployment))
                return strdup(file);
        /* config_load() made sure the name ends in ".prom" */
        stem = strlen(file) - (sizeof(".prom") - 1);
        if (asprintf(&p, "%.*s-%s.prom", (int)stem, file, c->deployment) < 0)
                return NULL;
        return p;
}

/* the "watch" of the newest succeeded entry: a later refusal or failure does not end its watch */
static const char *newest_watch(const cJSON *ledger) {
        for (int i = cJSON_GetArraySize(ledger) - 1; i >= 0; i--) {
                const cJSON *e = cJSON_GetArrayItem(ledger, i);
                if (streq_ptr(json_get_string(e, "result"), "succeeded"))
                        return json_get_string(e, "watch");
        }
        return NULL;
}

void metrics_update(const Config *c) {
        _cleanup_free_ char *file = metrics_file_path(c), *path = NULL, *version = NULL, *text = NULL;
        _cleanup_json_ cJSON *ledger = NULL, *current = NULL;
        MetricsState s = { .deployment = c->deployment };
        int r;

        if (!c->notify_metrics_file)
                return;
        if (!file || !(path = paths_rooted(file)))
                return (void)log_oom();
        r = ledger_load(c->deployment, &ledger);
        if (r < 0)
                log_warning_errno(r, "Failed to read the ledger for the metrics file %s: %m", file);
        else {
                s.last = ledger_last(ledger);
                s.watch = newest_watch(ledger);
        }
        r = current_read_document(c->deployment, &current);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to read current.json for the metrics file %s: %m", file);
        if (current) {
                s.held = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(current, "held"));
                s.in_progress = !s.held;
        }
        s.auto_on_hold = helper_hold_read(c->deployment, NULL, NULL) > 0;
        if (release_current_version(&version) >= 0)
                s.version = version;

        if (metrics_render(&s, &text) < 0)
                return (void)log_oom();
        r = state_write_atomic(path, text, strlen(text), 0644);
        if (r < 0)
                log_warning_errno(
                        r,
                        "Failed to write the metrics file %s ([Notify] MetricsFile=): %m%s",
                        file,
                        r == -ENOENT ? " (its directory does not exist: is prometheus-node-exporter "
                                       "installed?)"
                                     : "");
}
