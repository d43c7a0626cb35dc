/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli-follow.c: the follower of `upgrade`, `rollback` and `status --follow` (docs/architecture.md,
 * "Following an upgrade"): the upgrade unit and then its rollback, watched until they end, drawn live,
 * then the result in one sentence, the journal lines that explain it and what to run next */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

#include "bus.h"
#include "checks.h"
#include "cli.h"
#include "helper.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "progress.h"
#include "release.h"
#include "state.h"
#include "strv.h"
#include "unitname.h"

/* how often the state is read again */
#define FOLLOW_TICK_USEC (250 * USEC_PER_MSEC)
/* how long a failed upgrade's rollback may take to start (OnFailure=) before the ledger decides alone */
#define FOLLOW_ROLLBACK_START_USEC (60 * USEC_PER_SEC)
/* the journal lines shown after a failure, at most */
#define FOLLOW_WHY_LINES 8

static volatile sig_atomic_t follow_interrupted = 0;

static void on_interrupt(int sig) {
        follow_interrupted = 1;
}

/* one unit as the follower sees it */
typedef struct Watched {
        const char *unit;
        char *invocation_before; /* its InvocationID before the follower started it ("" none) */
        bool started;            /* it ran since */
        bool ended;
        char *result; /* Service.Result once ended ("success", "exit-code", …) */
        char *status_text;
} Watched;

static void watched_done(Watched *w) {
        free(w->invocation_before);
        free(w->result);
        free(w->status_text);
}

/* read w's unit anew: started, ended, its StatusText= */
static void watched_poll(sd_bus *bus, Watched *w) {
        _cleanup_free_ char *active = NULL, *sub = NULL, *id = NULL, *text = NULL;

        /* the invocation id before the state: read the other way round, a start between the two reads
         * paired the new id with the state from before it ("inactive"), and the unit counted as ended
         * the moment it began */
        if (!w->unit || w->ended || bus_unit_get_invocation_id(bus, w->unit, &id) < 0)
                return;
        if (bus_unit_get_state(bus, w->unit, &active, &sub) < 0)
                return;
        if (!w->started)
                w->started = streq(active, "activating") || streq(active, "active") ||
                             streq(active, "deactivating") || (*id && !streq_ptr(id, w->invocation_before));
        if (bus_unit_get_string(bus, w->unit, "Service", "StatusText", &text) >= 0) {
                free(w->status_text);
                w->status_text = TAKE_PTR(text);
        }
        if (w->started && (streq(active, "inactive") || streq(active, "failed"))) {
                w->ended = true;
                if (bus_unit_get_string(bus, w->unit, "Service", "Result", &w->result) < 0)
                        w->result = strdup(streq(active, "failed") ? "failed" : "success");
        }
}

static void watched_init(sd_bus *bus, Watched *w, const char *unit, bool running_counts) {
        _cleanup_free_ char *active = NULL, *sub = NULL;

        w->unit = unit;
        if (!unit)
                return;
        /* a unit that ends well is unloaded at once, and its InvocationID and Result with it: pinned
         * while the follower is connected. Without it (an older systemd), the start is still seen by
         * the state read while it runs. */
        (void)bus_ref_unit(bus, unit, NULL);
        if (bus_unit_get_invocation_id(bus, unit, &w->invocation_before) < 0)
                w->invocation_before = strdup("");
        /* status --follow: what runs now is what it follows */
        if (running_counts && bus_unit_get_state(bus, unit, &active, &sub) >= 0 &&
            (streq(active, "activating") || streq(active, "active") || streq(active, "deactivating")))
                w->started = true;
}

/* the newest ledger entry for version that ended at or after since (CLOCK_REALTIME; the ledger's
 * times are whole seconds), or NULL; a copy */
static cJSON *entry_since(const Config *c, const char *version, usec_t since) {
        _cleanup_json_ cJSON *ledger = NULL;
        const cJSON *e, *found = NULL;
        usec_t finished;

        if (ledger_load(c->deployment, &ledger) < 0)
                return NULL;
        cJSON_ArrayForEach (e, ledger)
                if (streq_ptr(json_get_string(e, "to"), version) &&
                    checks_parse_timestamp(json_get_string(e, "finished"), &finished) >= 0 &&
                    finished + USEC_PER_SEC > since)
                        found = e;
        return found ? cJSON_Duplicate(found, true) : NULL;
}

/* the unit's messages since `since`, at priority or worse, the last `max` of them, indented */
static void print_why(const char *unit, usec_t since, int priority, unsigned max) {
        _cleanup_free_ char *match = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        sd_journal *j = NULL;
        const void *data;
        size_t size, n;

        if (!unit || asprintf(&match, "_SYSTEMD_UNIT=%s", unit) < 0 ||
            sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY) < 0)
                return;
        if (sd_journal_add_match(j, match, 0) >= 0 && sd_journal_seek_realtime_usec(j, since) >= 0)
                while (sd_journal_next(j) > 0) {
                        _cleanup_free_ char *line = NULL;
                        if (sd_journal_get_data(j, "PRIORITY", &data, &size) < 0 || size != 10 ||
                            ((const char *)data)[9] > '0' + priority)
                                continue;
                        if (sd_journal_get_data(j, "MESSAGE", &data, &size) < 0 ||
                            asprintf(&line, "  %.*s", (int)(size - 8), (const char *)data + 8) < 0 ||
                            strv_push(&lines, line) < 0)
                                break;
                }
        sd_journal_close(j);
        n = strv_length(lines);
        for (size_t i = n > max ? n - max : 0; i < n; i++)
                printf("%s\n", lines[i]);
}

/* what to run next, after the result */
static void print_next(const Config *c, const CliFollow *f, const cJSON *entry) {
        const char *result = json_get_string(entry, "result"), *to = json_get_string(entry, "to") ?: "?",
                   *from = json_get_string(entry, "from") ?: "?";
        _cleanup_free_ char *opt = NULL;

        if (asprintf(&opt, "%s%s", UNITNAME_DEPLOYMENT_OPTION(c->deployment)) < 0)
                return (void)log_oom();

        if (streq_ptr(result, "succeeded"))
                printf("Next: codebolt-upgrade%s status shows the watch of %s; codebolt-upgrade%s rollback "
                       "%s goes back to %s.\n",
                       opt,
                       to,
                       opt,
                       to,
                       from);
        else if (streq_ptr(result, "held"))
                printf("Next: codebolt-upgrade%s status says what to finish by hand, then "
                       "codebolt-upgrade%s "
                       "clear %s.\n",
                       opt,
                       opt,
                       to);
        else if (streq_ptr(result, "refused"))
                printf("Next: codebolt-upgrade%s plan %s shows every gate.\n", opt, to);
        else if (f->by_hand)
                printf("Next: codebolt-upgrade%s status; %s stays marked failed until codebolt-upgrade%s "
                       "clear %s.\n",
                       opt,
                       to,
                       opt,
                       to);
        else
                printf("Next: journalctl -u %s -u %s says every step; once the cause is fixed, "
                       "codebolt-upgrade%s clear %s allows %s again.\n",
                       strempty(f->upgrade_unit),
                       strempty(f->rollback_unit),
                       opt,
                       to,
                       to);
}

typedef struct Screen {
        bool tty, json, utf8;
        unsigned drawn;    /* lines of the block on the terminal now */
        char *last;        /* the last block, or the last JSON object without its time */
        sd_journal *units; /* on a pipe: the two units' journal, read on as it grows */
} Screen;

static void screen_done(Screen *s) {
        free(s->last);
        if (s->units)
                sd_journal_close(s->units);
}

/* On a pipe, the units' own lines as well (a line per phase and step, every warning and error):
 * the journal of both units from since on (attach: its last few lines first), at info or worse */
static void screen_open_journal(Screen *s, const CliFollow *f, bool attach) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        sd_journal *j = NULL;
        int r;

        if (sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY) < 0)
                return;
        r = 0;
        if (f->upgrade_unit &&
            (asprintf(&a, "_SYSTEMD_UNIT=%s", f->upgrade_unit) < 0 ||
             (r = sd_journal_add_match(j, a, 0)) < 0 || (r = sd_journal_add_disjunction(j)) < 0))
                r = r < 0 ? r : -ENOMEM;
        if (r >= 0 && f->rollback_unit &&
            (asprintf(&b, "_SYSTEMD_UNIT=%s", f->rollback_unit) < 0 ||
             (r = sd_journal_add_match(j, b, 0)) < 0))
                r = r < 0 ? r : -ENOMEM;
        if (r >= 0)
                r = attach ? sd_journal_seek_tail(j) : sd_journal_seek_realtime_usec(j, f->since);
        /* the last few lines of what already happened, for one who attaches */
        if (r >= 0 && attach)
                r = sd_journal_previous_skip(j, 6);
        if (r < 0) {
                sd_journal_close(j);
                return;
        }
        s->units = j;
}

static void screen_journal(Screen *s) {
        const void *data;
        size_t size;

        if (!s->units)
                return;
        while (sd_journal_next(s->units) > 0) {
                char stamp[16] = "";
                uint64_t t;
                time_t sec;
                struct tm tm;

                if (sd_journal_get_data(s->units, "PRIORITY", &data, &size) < 0 || size != 10 ||
                    ((const char *)data)[9] > '0' + LOG_INFO)
                        continue;
                if (sd_journal_get_data(s->units, "MESSAGE", &data, &size) < 0)
                        continue;
                if (sd_journal_get_realtime_usec(s->units, &t) >= 0 && (sec = (time_t)(t / USEC_PER_SEC)) &&
                    localtime_r(&sec, &tm))
                        strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
                printf("%s   %.*s\n", stamp, (int)(size - 8), (const char *)data + 8);
        }
}

static unsigned terminal_width(void) {
        struct winsize ws = {};

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0)
                return 80;
        return ws.ws_col;
}

static void timestamped(const char *line) {
        char stamp[16];
        time_t t = time(NULL);
        struct tm tm;

        if (!localtime_r(&t, &tm) || strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm) == 0)
                stamp[0] = 0;
        printf("%s %s\n", stamp, line);
}

/* draw what changed since the last call */
static void screen_show(Screen *s, const Progress *old, const Progress *p, ProgressView *v) {
        if (s->json) {
                _cleanup_json_ cJSON *o = progress_to_json(p, v, now_realtime());
                _cleanup_free_ char *key = NULL, *text = NULL;
                if (!o)
                        return;
                /* a new line only for a change, not for the clock */
                cJSON_DeleteItemFromObjectCaseSensitive(o, "time");
                cJSON_DeleteItemFromObjectCaseSensitive(o, "elapsed_seconds");
                if (p->server_stopped && !p->server_back)
                        cJSON_DeleteItemFromObjectCaseSensitive(o, "downtime_seconds");
                key = cJSON_PrintUnformatted(o);
                if (!key || streq_ptr(key, s->last))
                        return;
                free(s->last);
                s->last = TAKE_PTR(key);
                cJSON_Delete(o);
                o = progress_to_json(p, v, now_realtime());
                text = o ? cJSON_PrintUnformatted(o) : NULL;
                if (text)
                        printf("%s\n", text);
        } else if (s->tty) {
                _cleanup_free_ char *block = NULL;
                v->utf8 = s->utf8;
                v->width = terminal_width();
                block = progress_block(p, v);
                if (!block || streq_ptr(block, s->last))
                        return;
                if (s->drawn > 0)
                        printf("\033[%uA\033[J", s->drawn);
                fputs(block, stdout);
                s->drawn = progress_block_lines(block);
                free(s->last);
                s->last = TAKE_PTR(block);
        } else {
                _cleanup_strv_free_ char **lines = NULL;
                screen_journal(s);
                if (progress_changes(old, p, v, &lines) >= 0)
                        STRV_FOREACH (l, lines)
                                timestamped(*l);
        }
        fflush(stdout);
}

int cli_follow(const Config *c, const CliFollow *f) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(watched_done) Watched upgrade = {}, rollback = {};
        _cleanup_(screen_done) Screen screen = {};
        _cleanup_json_ cJSON *shown_doc = NULL, *entry = NULL;
        _cleanup_free_ char *sentence = NULL;
        struct sigaction sa = { .sa_handler = on_interrupt }, old_int, old_term;
        Progress shown = {};
        usec_t t0 = clock_usec(CLOCK_MONOTONIC), upgrade_ended_at = 0, back_seen = 0;
        int r, code;

        r = bus_open_system(&bus);
        if (r < 0) {
                log_error_errno(r, "Failed to connect to the system bus: %m");
                return 2;
        }

        screen.json = arg_json;
        screen.tty = !arg_json && isatty(STDOUT_FILENO);
        screen.utf8 = helper_locale_is_utf8();

        if (!screen.json && !screen.tty)
                screen_open_journal(&screen, f, f->attach);
        watched_init(bus, &upgrade, f->upgrade_unit, f->attach);
        watched_init(bus, &rollback, f->rollback_unit, f->attach);
        if (f->start_unit) {
                _cleanup_free_ char *error = NULL;
                r = bus_queue_start_unit(bus, f->start_unit, &error);
                if (r < 0) {
                        log_error_errno(r, "Failed to start %s: %s", f->start_unit, error ?: strerror(-r));
                        return 2;
                }
                if (!screen.json)
                        printf("Started %s. Ctrl-C stops following it, never the %s.\n",
                               f->start_unit,
                               f->upgrade_unit ? "upgrade" : "rollback");
        }

        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        while (!follow_interrupted) {
                ProgressView v = { .deployment = c->deployment, .migrations_total = f->migrations_total };
                usec_t now = clock_usec(CLOCK_MONOTONIC), now_rt = now_realtime();
                cJSON *doc = NULL;
                Progress p;
                bool done;

                if (current_read_document(c->deployment, &doc) < 0)
                        doc = NULL;
                watched_poll(bus, &upgrade);
                if (!f->upgrade_unit || upgrade.ended)
                        watched_poll(bus, &rollback);
                if (upgrade.ended && upgrade_ended_at == 0)
                        upgrade_ended_at = now;

                /* once current.json is gone (finish, the rollback's end), the last one read stays shown */
                if (doc)
                        progress_read(doc, &p);
                else
                        p = shown;
                v.status_text = (rollback.started ? &rollback : &upgrade)->status_text;
                v.elapsed = now - t0;
                v.downtime = USEC_INFINITY;
                if (p.server_stopped && p.stopped_at > 0) {
                        if (p.server_back && back_seen == 0)
                                back_seen = now_rt;
                        v.downtime = usec_sub_floor(p.server_back ? back_seen : now_rt, p.stopped_at);
                        v.downtime_final = p.server_back && !p.rollback;
                }
                screen_show(&screen, &shown, &p, &v);
                if (doc) {
                        cJSON_Delete(shown_doc);
                        shown_doc = doc;
                }
                shown = p;

                if (!f->upgrade_unit)
                        done = rollback.ended;
                else if (!upgrade.ended)
                        done = false;
                else if (streq_ptr(upgrade.result, "success"))
                        done = true;
                else
                        done = rollback.ended ||
                               (!rollback.started && now - upgrade_ended_at > FOLLOW_ROLLBACK_START_USEC);
                if (done)
                        break;
                (void)clock_nanosleep(
                        CLOCK_MONOTONIC, 0, &(struct timespec){ .tv_nsec = FOLLOW_TICK_USEC * 1000 }, NULL);
        }
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);

        /* the upgrade unit succeeded: finish removed current.json before the last phase may have been
         * seen, so the last view shows every phase done */
        if (!follow_interrupted && f->upgrade_unit && streq_ptr(upgrade.result, "success") &&
            shown.in_flight && !shown.rollback) {
                ProgressView v = {
                        .deployment = c->deployment,
                        .migrations_total = f->migrations_total,
                        .elapsed = clock_usec(CLOCK_MONOTONIC) - t0,
                        .downtime = shown.server_stopped && shown.stopped_at > 0 && back_seen > 0
                                            ? usec_sub_floor(back_seen, shown.stopped_at)
                                            : USEC_INFINITY,
                        .downtime_final = true,
                };
                Progress done = shown;

                done.phase = progress_phases[PROGRESS_PHASES - 1];
                done.phase_index = PROGRESS_PHASES;
                done.complete = true;
                screen_show(&screen, &shown, &done, &v);
        }

        /* journald may write a unit's last lines a moment after the unit ended: they are read below (on a
         * pipe, and for the lines that explain a failure) */
        if (!follow_interrupted) {
                (void)clock_nanosleep(
                        CLOCK_MONOTONIC,
                        0,
                        &(struct timespec){ .tv_nsec = 2 * FOLLOW_TICK_USEC * 1000 },
                        NULL);
                screen_journal(&screen);
                fflush(stdout);
        }

        if (follow_interrupted) {
                printf("\nDetached: the %s goes on. codebolt-upgrade%s%s status --follow follows it "
                       "again.\n",
                       rollback.started || !f->upgrade_unit ? "rollback" : "upgrade",
                       UNITNAME_DEPLOYMENT_OPTION(c->deployment));
                return 130;
        }

        entry = entry_since(c, f->version, f->since);
        if (!entry) {
                _cleanup_free_ char *running = NULL;
                if (f->upgrade_unit && streq_ptr(upgrade.result, "success") &&
                    release_current_version(&running) >= 0 && streq(running, f->version)) {
                        printf("Deployment %s runs %s already: nothing was done.\n",
                               c->deployment,
                               f->version);
                        return 0;
                }
                /* what the unit said, a refusal say (on a pipe it was shown as it came) */
                if (!screen.units)
                        print_why(
                                rollback.started ? rollback.unit : upgrade.unit,
                                f->since,
                                LOG_NOTICE,
                                FOLLOW_WHY_LINES);
                log_error(
                        "The result of %s is not in the ledger of deployment %s. What happened: journalctl "
                        "-u %s",
                        f->version,
                        c->deployment,
                        rollback.started ? rollback.unit : strempty(upgrade.unit ?: rollback.unit));
                return 1;
        }
        code = progress_exit_code(json_get_string(entry, "result"));
        /* a rollback asked for by hand did what it was asked to when it put the old version back */
        if (f->by_hand && code == 1)
                code = 0;
        if (code < 0)
                code = 1;
        if (screen.json) {
                _cleanup_json_ cJSON *o = cJSON_CreateObject();
                _cleanup_free_ char *text = NULL;
                sentence = progress_sentence(entry, c->deployment);
                if (!o || !cJSON_AddItemToObject(o, "result", cJSON_Duplicate(entry, true)) ||
                    !cJSON_AddNumberToObject(o, "exit", code) ||
                    !cJSON_AddStringToObject(o, "sentence", strempty(sentence)) ||
                    !(text = cJSON_PrintUnformatted(o)))
                        return log_oom(), code;
                printf("%s\n", text);
                return code;
        }
        sentence = progress_sentence(entry, c->deployment);
        if (!sentence)
                return log_oom(), code;
        printf("\n%s\n", sentence);
        if (!streq_ptr(json_get_string(entry, "result"), "succeeded")) {
                printf("Why, from the journal:\n");
                if (upgrade.unit)
                        print_why(upgrade.unit, f->since, LOG_ERR, FOLLOW_WHY_LINES);
                if (rollback.started)
                        print_why(rollback.unit, f->since, LOG_WARNING, FOLLOW_WHY_LINES / 2);
        }
        print_next(c, f, entry);
        return code;
}
