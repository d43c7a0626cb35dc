/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* progress.c: an upgrade's progress, as the follower shows it (progress.h) */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checks.h"
#include "json-util.h"
#include "macro.h"
#include "progress.h"
#include "string-util.h"
#include "strv.h"

const char *const progress_phases[PROGRESS_PHASES] = {
        "preflight", "stage", "backup", "drain", "snapshot", "switch", "migrate", "smoke", "finish",
};

static unsigned phase_index(const char *phase) {
        for (unsigned i = 0; phase && i < PROGRESS_PHASES; i++)
                if (streq(phase, progress_phases[i]))
                        return i + 1;
        return 0;
}

static bool phase_done(const cJSON *current, const char *phase) {
        const cJSON *p;

        cJSON_ArrayForEach (p, cJSON_GetObjectItemCaseSensitive(current, "phases"))
                if (cJSON_IsString(p) && streq(p->valuestring, phase))
                        return true;
        return false;
}

void progress_read(const cJSON *current, Progress *ret) {
        const cJSON *m;
        usec_t at;

        *ret = (Progress){};
        if (!cJSON_IsObject(current))
                return;
        ret->in_flight = true;
        ret->from = json_get_string(current, "from");
        ret->to = json_get_string(current, "to");
        ret->phase = json_get_string(current, "phase");
        ret->phase_index = phase_index(ret->phase);
        ret->rollback = streq_ptr(ret->phase, "rollback");
        ret->rollback_from = json_get_string(current, "rollback_from_phase");
        ret->held = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(current, "held"));
        cJSON_ArrayForEach (m, cJSON_GetObjectItemCaseSensitive(current, "migrations")) {
                const char *state = json_get_string(m, "state"), *id = json_get_string(m, "id");
                ret->migrations_seen++;
                if (streq_ptr(state, "applied"))
                        ret->migrations_applied++;
                else if (streq_ptr(state, "applying"))
                        ret->applying = id;
                else if (streq_ptr(state, "failed"))
                        ret->failed_migration = id;
        }
        ret->server_stopped = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(current, "server_stopped"));
        ret->server_back = ret->server_stopped && phase_done(current, "migrate");
        if (checks_parse_timestamp(json_get_string(current, "stopped_at"), &at) >= 0)
                ret->stopped_at = at;
}

/* "1:05" for 65 s, "1:02:03" past the hour */
static void format_clock(usec_t t, char buf[static 32]) {
        unsigned long s = (unsigned long)(t / USEC_PER_SEC);

        if (s >= 3600)
                snprintf(buf, 32, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
        else
                snprintf(buf, 32, "%lu:%02lu", s / 60, s % 60);
}

/* line into f, cut to width columns (counting UTF-8 characters, not bytes) */
static void put_line(FILE *f, unsigned width, const char *line) {
        unsigned columns = 0;

        for (const char *c = line; *c; c++) {
                bool starts = ((unsigned char)*c & 0xc0) != 0x80;
                if (starts && width > 0 && columns == width)
                        break;
                columns += starts;
                fputc(*c, f);
        }
        fputc('\n', f);
}

static unsigned migrations_total(const Progress *p, const ProgressView *v) {
        return v->migrations_total > p->migrations_seen ? v->migrations_total : p->migrations_seen;
}

char *progress_block(const Progress *p, const ProgressView *v) {
        _cleanup_free_ char *text = NULL, *line = NULL;
        size_t size = 0;
        unsigned failed_at = phase_index(p->rollback_from),
                 done = p->phase_index > 0 ? p->phase_index - 1
                        : failed_at > 0    ? failed_at - 1
                                           : 0,
                 total = migrations_total(p, v);
        char elapsed[32], down[32], bar[PROGRESS_PHASES * 3 * 4 + 1] = "";
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return NULL;
        if (p->rollback || p->held)
                line = strprintf(
                        "%s the upgrade %s → %s",
                        p->held ? "HELD:" : "Rolling back",
                        strempty(p->from),
                        strempty(p->to));
        else if (p->in_flight)
                line = strprintf(
                        "Upgrading %s → %s (deployment %s)",
                        strempty(p->from),
                        strempty(p->to),
                        strempty(v->deployment));
        else
                line = strprintf("Starting (deployment %s)", strempty(v->deployment));
        if (!line)
                goto oom;
        put_line(f, v->width, line);
        free(TAKE_PTR(line));

        /* three cells a phase: the bar fills as phases complete, the one running half */
        for (unsigned i = 0; i < PROGRESS_PHASES * 3; i++) {
                bool full = p->complete || i < done * 3 ||
                            (!p->rollback && p->phase_index > 0 && i < done * 3 + 1);
                strcat(bar, full ? (v->utf8 ? "█" : "#") : (v->utf8 ? "░" : "."));
        }
        if (p->phase_index > 0 && !p->rollback)
                line = strprintf("  %s  phase %u of %d: %s", bar, p->phase_index, PROGRESS_PHASES, p->phase);
        else if (p->rollback && failed_at > 0)
                line = strprintf(
                        "  %s  rolling back: the upgrade failed in phase %u of %d, %s",
                        bar,
                        failed_at,
                        PROGRESS_PHASES,
                        p->rollback_from);
        else
                line = strprintf("  %s  %s", bar, p->phase ? p->phase : "waiting for the unit to start");
        if (!line)
                goto oom;
        put_line(f, v->width, line);
        free(TAKE_PTR(line));

        if (total > 0 || p->migrations_seen > 0) {
                if (p->failed_migration)
                        line = strprintf(
                                "  migrations  %u of %u applied; %s failed",
                                p->migrations_applied,
                                total,
                                p->failed_migration);
                else if (p->applying)
                        line = strprintf(
                                "  migrations  %u of %u applied; applying %s",
                                p->migrations_applied,
                                total,
                                p->applying);
                else
                        line = strprintf("  migrations  %u of %u applied", p->migrations_applied, total);
        } else
                line = strdup("  migrations  none to apply");
        if (!line)
                goto oom;
        put_line(f, v->width, line);
        free(TAKE_PTR(line));

        format_clock(v->elapsed, elapsed);
        if (v->downtime == USEC_INFINITY)
                line = strprintf("  elapsed     %s; the server has not stopped", elapsed);
        else {
                format_clock(v->downtime, down);
                line = strprintf(
                        "  elapsed     %s; %s %s",
                        elapsed,
                        v->downtime_final ? "the server answered again after" : "the server is down for",
                        down);
        }
        if (!line)
                goto oom;
        put_line(f, v->width, line);
        free(TAKE_PTR(line));

        if (v->status_text && *v->status_text) {
                if (!(line = strprintf("  %s", v->status_text)))
                        goto oom;
                put_line(f, v->width, line);
        }
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(text);
oom:
        fclose(f);
        return NULL;
}

unsigned progress_block_lines(const char *text) {
        unsigned n = 0;

        for (; text && *text; text++)
                n += *text == '\n';
        return n;
}

static int add_line(char ***lines, const char *fmt, ...) _printf_(2, 3);
static int add_line(char ***lines, const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;

        s = STRPRINTF_ARGS(fmt);
        if (!s)
                return -ENOMEM;
        return strv_push(lines, s) < 0 ? -ENOMEM : 0;
}

int progress_changes(const Progress *old, const Progress *new, const ProgressView *v, char ***lines) {
        unsigned total = migrations_total(new, v);
        int r = 0;

        if (new->in_flight && !old->in_flight &&new->from &&new->to)
                r = add_line(
                        lines,
                        "upgrade %s → %s of deployment %s",
                        new->from,
                        new->to,
                        strempty(v->deployment));
        if (r >= 0 && new->phase && !streq_ptr(old->phase, new->phase)) {
                if (new->rollback)
                        r = add_line(
                                lines,
                                "the upgrade failed in phase %s: the rollback runs",
                                old->phase ? old->phase : "?");
                else if (new->phase_index > 0)
                        /* every phase since the last one seen: a reading a few phases late (a loaded
                         * machine, an attach) still lists each, in order */
                        for (unsigned i = old->rollback ? new->phase_index : old->phase_index + 1;
                             r >= 0 && i <= new->phase_index;
                             i++)
                                r = add_line(
                                        lines,
                                        "phase %u of %d: %s",
                                        i,
                                        PROGRESS_PHASES,
                                        progress_phases[i - 1]);
                else
                        r = add_line(lines, "phase %s", new->phase);
        }
        if (r >= 0 && new->server_stopped && !old->server_stopped)
                r = add_line(lines, "the server is stopped: the downtime begins");
        if (r >= 0 && new->applying && !streq_ptr(old->applying, new->applying))
                r = add_line(
                        lines,
                        "migration %u of %u: applying %s",
                        new->migrations_applied + 1,
                        total,
                        new->applying);
        if (r >= 0 && new->migrations_applied > old->migrations_applied)
                r = add_line(lines, "migrations: %u of %u applied", new->migrations_applied, total);
        if (r >= 0 && new->failed_migration && !streq_ptr(old->failed_migration, new->failed_migration))
                r = add_line(lines, "migration %s failed", new->failed_migration);
        if (r >= 0 && new->server_back && !old->server_back) {
                char down[32];
                if (v->downtime != USEC_INFINITY) {
                        format_clock(v->downtime, down);
                        r = add_line(lines, "the server answers again: it was down for %s", down);
                } else
                        r = add_line(lines, "the server answers again");
        }
        if (r >= 0 && new->held && !old->held)
                r = add_line(lines, "HELD: the rollback stopped short; see codebolt-upgrade status");
        return r;
}

cJSON *progress_to_json(const Progress *p, const ProgressView *v, usec_t time) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();
        char stamp[sizeof("2026-11-26T10:57:13Z")];
        time_t t = (time_t)(time / USEC_PER_SEC);
        struct tm tm;

        if (!o || !gmtime_r(&t, &tm) || strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return NULL;
        if (!cJSON_AddStringToObject(o, "time", stamp) ||
            !cJSON_AddStringToObject(o, "deployment", strempty(v->deployment)) ||
            !cJSON_AddBoolToObject(o, "in_flight", p->in_flight) ||
            !cJSON_AddItemToObject(o, "from", p->from ? cJSON_CreateString(p->from) : cJSON_CreateNull()) ||
            !cJSON_AddItemToObject(o, "to", p->to ? cJSON_CreateString(p->to) : cJSON_CreateNull()) ||
            !cJSON_AddItemToObject(
                    o, "phase", p->phase ? cJSON_CreateString(p->phase) : cJSON_CreateNull()) ||
            !cJSON_AddNumberToObject(o, "phase_index", p->phase_index) ||
            !cJSON_AddNumberToObject(o, "phases", PROGRESS_PHASES) ||
            !cJSON_AddBoolToObject(o, "rollback", p->rollback) ||
            !cJSON_AddBoolToObject(o, "held", p->held) ||
            !cJSON_AddNumberToObject(o, "migrations_applied", p->migrations_applied) ||
            !cJSON_AddNumberToObject(o, "migrations_total", migrations_total(p, v)) ||
            !cJSON_AddItemToObject(
                    o, "applying", p->applying ? cJSON_CreateString(p->applying) : cJSON_CreateNull()) ||
            !cJSON_AddBoolToObject(o, "server_stopped", p->server_stopped) ||
            !cJSON_AddBoolToObject(o, "server_back", p->server_back) ||
            !cJSON_AddItemToObject(
                    o,
                    "downtime_seconds",
                    v->downtime == USEC_INFINITY
                            ? cJSON_CreateNull()
                            : cJSON_CreateNumber((double)(v->downtime / USEC_PER_SEC))) ||
            !cJSON_AddNumberToObject(o, "elapsed_seconds", (double)(v->elapsed / USEC_PER_SEC)) ||
            !cJSON_AddItemToObject(
                    o,
                    "status_text",
                    v->status_text ? cJSON_CreateString(v->status_text) : cJSON_CreateNull()))
                return NULL;
        return TAKE_PTR(o);
}

int progress_exit_code(const char *result) {
        if (streq_ptr(result, "succeeded"))
                return 0;
        if (streq_ptr(result, "rolled-back") || streq_ptr(result, "restored") ||
            streq_ptr(result, "aborted"))
                return 1;
        if (streq_ptr(result, "refused"))
                return 2;
        if (streq_ptr(result, "held"))
                return 3;
        return -EINVAL;
}

char *progress_sentence(const cJSON *entry, const char *deployment) {
        const char *result = json_get_string(entry, "result"), *from = json_get_string(entry, "from") ?: "?",
                   *to = json_get_string(entry, "to") ?: "?",
                   *phase = json_get_string(entry, "phase") ?: "?",
                   *message = json_get_string(entry, "message");
        const cJSON *downtime = cJSON_GetObjectItemCaseSensitive(entry, "downtime_seconds");
        /* the ledger's downtime runs from the stop until the version it ended on passed its smoke test:
         * longer than the block's "answered again" by the smoke test's time */
        const char *ended_on = streq_ptr(result, "succeeded") ? to : from;
        char *s = NULL, down[256] = "";
        int r;

        if (cJSON_IsNumber(downtime))
                snprintf(
                        down,
                        sizeof(down),
                        " (%.0f s from the stop until %s passed its smoke test)",
                        downtime->valuedouble,
                        ended_on);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(entry, "late")) &&
            (streq_ptr(result, "rolled-back") || streq_ptr(result, "restored")))
                /* a rollback by hand after a success: nothing failed */
                r = asprintf(
                        &s,
                        "Rolled back by hand: the upgrade to %s is %s; %s runs again.",
                        to,
                        result,
                        from);
        else if (streq_ptr(result, "succeeded"))
                r = asprintf(
                        &s, "Upgraded deployment %s from %s to %s%s.", strempty(deployment), from, to, down);
        else if (streq_ptr(result, "rolled-back"))
                r = asprintf(
                        &s,
                        "Rolled back: the upgrade to %s failed in phase %s; %s runs again on its data%s.",
                        to,
                        phase,
                        from,
                        down);
        else if (streq_ptr(result, "restored"))
                r = asprintf(
                        &s,
                        "Restored: the upgrade to %s failed in phase %s; %s runs again, its database and "
                        "stores put back as they were at the stop%s.",
                        to,
                        phase,
                        from,
                        down);
        else if (streq_ptr(result, "aborted"))
                r = asprintf(
                        &s,
                        "Aborted: the upgrade to %s failed in phase %s, before the server stopped; %s kept "
                        "serving.",
                        to,
                        phase,
                        from);
        else if (streq_ptr(result, "refused"))
                r = asprintf(
                        &s,
                        "Refused: the upgrade to %s was not started (%s); nothing was changed.",
                        to,
                        message ?: "see the journal");
        else if (streq_ptr(result, "held"))
                r = asprintf(
                        &s,
                        "HELD: the upgrade to %s failed in phase %s and its rollback stopped short (%s); "
                        "nothing more happens on its own.",
                        to,
                        phase,
                        message ?: "see codebolt-upgrade status");
        else
                r = asprintf(&s, "The upgrade to %s ended %s.", to, result ?: "without a result");
        return r < 0 ? NULL : s;
}
