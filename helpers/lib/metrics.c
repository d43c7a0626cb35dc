/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* metrics.c: the text of [Notify] MetricsFile= (metrics.h) */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "checks.h"
#include "json-util.h"
#include "macro.h"
#include "metrics.h"
#include "time-util.h"

const char *const metrics_watch_verdicts[] = { "running", "ok", "degraded", "not watched", NULL };

/* s as a label value: \ " and newline escaped, as the exposition format wants */
static void put_label_value(FILE *f, const char *s) {
        fputc('"', f);
        for (; *s; s++)
                switch (*s) {
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                default:
                        fputc(*s, f);
                }
        fputc('"', f);
}

static void put_header(FILE *f, const char *name, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* name{deployment="…"[,key="value"]…} value; labels: key, value pairs, NULL-terminated */
static void put_sample(
        FILE *f, const MetricsState *s, const char *name, const char *const *labels, double value) {
        fprintf(f, "%s{deployment=", name);
        put_label_value(f, s->deployment);
        for (; labels && labels[0]; labels += 2) {
                fprintf(f, ",%s=", labels[0]);
                put_label_value(f, strempty(labels[1]));
        }
        /* %.17g: every double back as it was, and a whole number without a point */
        fprintf(f, "} %.17g\n", value);
}

static void put_last(FILE *f, const MetricsState *s) {
        const cJSON *last = s->last, *phases, *p;
        const cJSON *downtime = cJSON_GetObjectItemCaseSensitive(last, "downtime_seconds");
        usec_t finished;

        put_header(f, "codebolt_upgrade_last_result", "The result of the last upgrade (1 on its series).");
        put_sample(
                f,
                s,
                "codebolt_upgrade_last_result",
                (const char *const[]){ "from",
                                       json_get_string(last, "from"),
                                       "to",
                                       json_get_string(last, "to"),
                                       "result",
                                       json_get_string(last, "result"),
                                       NULL },
                1);
        if (checks_parse_timestamp(json_get_string(last, "finished"), &finished) >= 0) {
                put_header(
                        f,
                        "codebolt_upgrade_last_timestamp_seconds",
                        "When the last upgrade ended (Unix time).");
                put_sample(
                        f,
                        s,
                        "codebolt_upgrade_last_timestamp_seconds",
                        NULL,
                        (double)(finished / USEC_PER_SEC));
        }
        if (cJSON_IsNumber(downtime)) {
                put_header(
                        f,
                        "codebolt_upgrade_downtime_seconds",
                        "How long the last upgrade kept the server from its users: from its stop until the "
                        "version it ended on passed its smoke test.");
                put_sample(f, s, "codebolt_upgrade_downtime_seconds", NULL, downtime->valuedouble);
        }
        phases = cJSON_GetObjectItemCaseSensitive(last, "phase_seconds");
        if (cJSON_GetArraySize(phases) > 0) {
                put_header(
                        f,
                        "codebolt_upgrade_phase_duration_seconds",
                        "How long each phase of the last upgrade took.");
                cJSON_ArrayForEach (p, phases)
                        if (cJSON_IsNumber(p) && p->string)
                                put_sample(
                                        f,
                                        s,
                                        "codebolt_upgrade_phase_duration_seconds",
                                        (const char *const[]){ "phase", p->string, NULL },
                                        p->valuedouble);
        }
}

int metrics_render(const MetricsState *s, char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;
        bool known = false;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        if (s->version) {
                put_header(f, "codebolt_upgrade_info", "The version of Codebolt the deployment runs.");
                put_sample(
                        f,
                        s,
                        "codebolt_upgrade_info",
                        (const char *const[]){ "version", s->version, NULL },
                        1);
        }
        if (s->last)
                put_last(f, s);
        put_header(f, "codebolt_upgrade_in_progress", "1 while an upgrade or its rollback is in flight.");
        put_sample(f, s, "codebolt_upgrade_in_progress", NULL, s->in_progress);
        put_header(
                f,
                "codebolt_upgrade_held",
                "1 while an upgrade is held: its rollback stopped short, and it is finished by hand.");
        put_sample(f, s, "codebolt_upgrade_held", NULL, s->held);
        put_header(
                f,
                "codebolt_upgrade_auto_on_hold",
                "1 while codebolt-upgrade hold pauses the unattended upgrades.");
        put_sample(f, s, "codebolt_upgrade_auto_on_hold", NULL, s->auto_on_hold);
        if (s->watch) {
                put_header(
                        f,
                        "codebolt_upgrade_watch_verdict",
                        "The verdict of the watch after the last successful upgrade (1 on its series).");
                for (const char *const *v = metrics_watch_verdicts; *v; v++) {
                        known = known || streq(*v, s->watch);
                        put_sample(
                                f,
                                s,
                                "codebolt_upgrade_watch_verdict",
                                (const char *const[]){ "verdict", *v, NULL },
                                streq(*v, s->watch));
                }
                if (!known)
                        put_sample(
                                f,
                                s,
                                "codebolt_upgrade_watch_verdict",
                                (const char *const[]){ "verdict", s->watch, NULL },
                                1);
        }
        if (fclose(f) != 0 || !text)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}
