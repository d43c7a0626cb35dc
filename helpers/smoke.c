/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* smoke.c: the smoke phase: the HTTP steps, the data in the database, no error in the server's journal */
#define _GNU_SOURCE
#include <poll.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "bus.h"
#include "credentials.h"
#include "events.h"
#include "helper.h"
#include "server.h"
#include "hooks.h"
#include "http.h"
#include "journal.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "pg.h"
#include "release.h"
#include "smoke-steps.h"
#include "state.h"
#include "string-util.h"
#include "time-util.h"
#include "trust.h"

/* one request never waits longer than this, even when Smoke= leaves more, and never less than that */
#define REQUEST_TIMEOUT_MAX (30 * USEC_PER_SEC)
#define REQUEST_TIMEOUT_MIN (5 * USEC_PER_SEC)
/* how much of an unexpected answer goes into the journal */
#define BODY_EXCERPT_MAX 200
/* a steps file is a few kilobytes */
#define SMOKE_STEPS_MAX ((size_t)1024 * 1024)
/* how long the server's journal is followed before it counts as read to the end */
#define JOURNAL_SETTLE USEC_PER_SEC

static const char *const predefined_variables[] = { "user", "password", NULL };

static void vars_freep(cJSON **vars) {
        cJSON *password = cJSON_GetObjectItemCaseSensitive(*vars, "password");

        if (cJSON_IsString(password))
                explicit_bzero(password->valuestring, strlen(password->valuestring));
        cJSON_Delete(*vars);
}

static void regfreep(regex_t **re) {
        if (*re)
                regfree(*re);
}

/* ---- (a) the HTTP steps ---- */

typedef struct StepRun {
        const SmokeStep *step;
        const char *shown_path; /* what the journal may see: never a path holding the password */
        bool secret;            /* the request carries the password: no answer excerpt in the journal */
} StepRun;

/* logs "Smoke step 'name' (METHOD path)" and then what fmt says; returns -error */
static int step_error(const StepRun *s, int error, const char *fmt, ...) _printf_(3, 4);
static int step_error(const StepRun *s, int error, const char *fmt, ...) {
        _cleanup_free_ char *rest = STRPRINTF_ARGS(fmt);

        if (!rest)
                return log_oom();
        return log_error_errno(
                error, "Smoke step '%s' (%s %s)%s", s->step->name, s->step->method, s->shown_path, rest);
}

static char *body_excerpt(const HttpResponse *resp) {
        char *s;

        if (!resp->body || resp->size == 0)
                return strdup("(empty body)");
        if (asprintf(&s, "%.*s%s", BODY_EXCERPT_MAX, resp->body, resp->size > BODY_EXCERPT_MAX ? "…" : "") <
            0)
                return NULL;
        for (char *p = s; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        return s;
}

/* the current value of the first `until` condition, for STATUS= while polling */
static char *until_progress(const SmokeStep *step, const cJSON *answer) {
        const cJSON *c = step->until ? step->until->child : NULL;
        const cJSON *v = c ? smoke_json_path(answer, c->string) : NULL;

        return v ? smoke_value_to_text(v) : NULL;
}

static int run_step(
        Helper *h, const SmokeStep *step, size_t index, size_t n_steps, cJSON *vars, usec_t deadline) {
        _cleanup_free_ char *path = NULL, *url = NULL, *body = NULL, *token = NULL, *missing = NULL,
                            *progress = NULL;
        _cleanup_json_ cJSON *body_json = NULL;
        StepRun s = { .step = step };
        int r;

        log_status("smoke: %s (step %zu of %zu)", step->name, index + 1, n_steps);

        r = smoke_substitute_path(step->path, vars, &path, &missing);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Smoke step '%s': cannot fill in the path %s (${%s}): %m",
                        step->name,
                        step->path,
                        strempty(missing));
        s.secret = smoke_uses_variable(step->path, "password") ||
                   smoke_json_uses_variable(step->body, "password");
        s.shown_path = smoke_uses_variable(step->path, "password") ? step->path : path;

        if (step->body) {
                r = smoke_substitute_json(step->body, vars, &body_json, &missing);
                if (r < 0)
                        return log_error_errno(
                                r,
                                "Smoke step '%s': cannot fill in the body (${%s}): %m",
                                step->name,
                                strempty(missing));
                body = cJSON_PrintUnformatted(body_json);
                if (!body)
                        return log_oom();
        }

        if (step->auth && cJSON_GetObjectItemCaseSensitive(vars, "token")) {
                token = smoke_value_to_text(cJSON_GetObjectItemCaseSensitive(vars, "token"));
                if (!token)
                        return log_oom();
        }

        url = helper_server_url(h, path);
        if (!url)
                return log_oom();

        for (bool repeat = false;; repeat = true) {
                _cleanup_http_response_ HttpResponse resp = {};
                _cleanup_free_ char *error = NULL, *excerpt = NULL, *now_progress = NULL;
                _cleanup_json_ cJSON *answer = NULL;
                const char *failed_path = NULL;
                usec_t now = now_monotonic(), timeout;

                if (helper_cancelled)
                        return -ECANCELED;
                if (!repeat && now >= deadline)
                        return step_error(&s, ETIME, ": [Timeouts] Smoke= ran out before it could run.");
                /* a repeat at the deadline itself still gets its answer */
                timeout = deadline > now ? deadline - now : 0;
                if (timeout < REQUEST_TIMEOUT_MIN)
                        timeout = REQUEST_TIMEOUT_MIN;
                if (timeout > REQUEST_TIMEOUT_MAX)
                        timeout = REQUEST_TIMEOUT_MAX;

                r = http_request(step->method, url, token, body, timeout, &resp, &error);
                if (r < 0)
                        return step_error(&s, r, " failed: %s", error ?: strerror(-r));

                if (resp.status != step->expect) {
                        excerpt = s.secret ? NULL : body_excerpt(&resp);
                        return step_error(
                                &s,
                                EPROTO,
                                " answered HTTP %ld, expected %ld%s%s",
                                resp.status,
                                step->expect,
                                excerpt ? ": " : ".",
                                strempty(excerpt));
                }

                if (resp.size > 0) {
                        answer = cJSON_ParseWithLength(resp.body, resp.size);
                        if (!answer && (step->save || step->until || step->fail_if)) {
                                excerpt = s.secret ? NULL : body_excerpt(&resp);
                                return step_error(
                                        &s,
                                        EBADMSG,
                                        " answered no JSON%s%s",
                                        excerpt ? ": " : ".",
                                        strempty(excerpt));
                        }
                }

                if (smoke_conditions_any(answer, step->fail_if, &failed_path)) {
                        _cleanup_free_ char *v = smoke_value_to_text(smoke_json_path(answer, failed_path));
                        return step_error(&s, EPROTO, " failed: %s is %s.", failed_path, v ? v : "absent");
                }

                r = smoke_save(answer, step->save, vars, &failed_path);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return step_error(&s, r, ": the answer has no %s to keep.", failed_path);

                if (!step->until || smoke_conditions_all(answer, step->until))
                        return 0;

                /* not there yet: ask again after the interval, within Smoke= */
                now_progress = until_progress(step, answer);
                if (now_progress && !streq_ptr(now_progress, progress)) {
                        log_status(
                                "smoke: %s: %s (step %zu of %zu)",
                                step->name,
                                now_progress,
                                index + 1,
                                n_steps);
                        free(progress);
                        progress = TAKE_PTR(now_progress);
                }
                now = now_monotonic();
                if (now >= deadline) {
                        _cleanup_free_ char *want = cJSON_PrintUnformatted(step->until);
                        return step_error(
                                &s,
                                ETIME,
                                " did not reach %s within [Timeouts] Smoke=%llus; %s "
                                "was %s.",
                                strempty(want),
                                (unsigned long long)(h->config.timeout_smoke / USEC_PER_SEC),
                                step->until->child->string,
                                progress ? progress : "absent");
                }
                /* a signal (SIGTERM) cuts the sleep short */
                if (!helper_cancelled)
                        sleep_until(deadline - now > step->interval ? now + step->interval : deadline);
        }
}

static int smoke_http(Helper *h) {
        _cleanup_(smoke_steps_done) SmokeSteps steps = {};
        _cleanup_(vars_freep) cJSON *vars = NULL;
        _cleanup_erase_free_ char *password = NULL;
        _cleanup_free_ char *path = NULL, *text = NULL, *error = NULL, *credential_path = NULL,
                            *untrusted = NULL;
        bool needs_password = false;
        usec_t deadline = helper_deadline(h->config.timeout_smoke);
        int r;

        path = paths_rooted(h->config.smoke_steps);
        if (!path)
                return log_oom();
        /* root acts on what they say (with the smoke password): they must be root's alone */
        r = trust_read_root_file(path, 0, SMOKE_STEPS_MAX, &text, NULL, &untrusted);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(
                        r,
                        "Cannot use the smoke steps %s ([Smoke] Steps=): %s",
                        path,
                        untrusted ?: strerror(-r));
        r = smoke_steps_parse(text, predefined_variables, &steps, &error);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "The smoke steps %s are not valid: %s", path, strempty(error));

        vars = cJSON_CreateObject();
        if (!vars || !cJSON_AddStringToObject(vars, "user", h->config.smoke_user))
                return log_oom();

        for (size_t i = 0; i < steps.n_steps; i++)
                needs_password = needs_password || smoke_uses_variable(steps.steps[i].path, "password") ||
                                 smoke_json_uses_variable(steps.steps[i].body, "password");
        if (needs_password) {
                _cleanup_free_ char *why = NULL;

                r = trust_read_credential(h->config.smoke_password_credential, &password, &why);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0) {
                        credential_path = paths_credential(h->config.smoke_password_credential);
                        return log_error_errno(
                                r,
                                "Failed to read the smoke-test password %s (it must exist, be owned by root "
                                "and have mode 0600): %s",
                                strempty(credential_path),
                                why ?: strerror(-r));
                }
                if (!cJSON_AddStringToObject(vars, "password", password))
                        return log_oom();
        }

        for (size_t i = 0; i < steps.n_steps; i++) {
                r = run_step(h, &steps.steps[i], i, steps.n_steps, vars, deadline);
                if (r < 0)
                        return r;
        }
        log_info("Smoke steps passed: %zu of %zu (%s).", steps.n_steps, steps.n_steps, path);
        return 0;
}

/* ---- (b) the data in the database ---- */

static int add_drop(cJSON *drops, const char *name) {
        cJSON *copy = cJSON_CreateString(name);

        if (!copy || !cJSON_AddItemToArray(drops, copy)) {
                cJSON_Delete(copy);
                return -ENOMEM;
        }
        return 0;
}

/* the release metadata's migrations */
static int add_drops(cJSON *drops, const cJSON *migrations) {
        const cJSON *m, *d;
        int r;

        cJSON_ArrayForEach (m, migrations)
                cJSON_ArrayForEach (d, cJSON_GetObjectItemCaseSensitive(m, "drops"))
                        if (cJSON_IsString(d) && (r = add_drop(drops, d->valuestring)) < 0)
                                return r;
        return 0;
}

/* the migrations current.json recorded */
static int add_recorded_drops(cJSON *drops, const Current *current) {
        int r;

        for (size_t i = 0; i < current->n_migrations; i++)
                STRV_FOREACH (d, current->migrations[i].drops)
                        if ((r = add_drop(drops, *d)) < 0)
                                return r;
        return 0;
}

/* the tables the release's migrations declare dropped or rewritten: those of the release's metadata and
 * those migrate-watch recorded (which carry the same declarations) */
static int collect_drops(Helper *h, cJSON **ret) {
        _cleanup_json_ cJSON *drops = cJSON_CreateArray(), *pkg = NULL;
        const char *release = h->current.staged_release;
        int r;

        if (!drops)
                return log_oom();
        r = add_recorded_drops(drops, &h->current);
        if (r < 0)
                return log_oom();

        if (!release)
                log_warning("current.json names no staged release: only the migrations migrate-watch "
                            "recorded may drop tables.");
        else {
                r = release_package_json(release, h->config.package, &pkg);
                if (r < 0)
                        log_warning_errno(
                                r,
                                "Failed to read the release metadata of %s in %s (%m): only the migrations "
                                "migrate-watch recorded may drop tables.",
                                h->config.package,
                                release);
                else {
                        const cJSON *block = cJSON_GetObjectItemCaseSensitive(pkg, "codebolt");
                        r = add_drops(drops, cJSON_GetObjectItemCaseSensitive(block, "migrations"));
                        if (r < 0)
                                return log_oom();
                }
        }
        *ret = TAKE_PTR(drops);
        return 0;
}

/* "history" names public.history (the default search_path), "audit.log" itself */
static bool table_dropped(const cJSON *drops, const char *table) {
        const cJSON *d;

        cJSON_ArrayForEach (d, drops) {
                const char *name = d->valuestring;
                const char *rest = startswith(table, "public.");

                if (streq(name, table) || (!strchr(name, '.') && rest && streq(name, rest)))
                        return true;
        }
        return false;
}

static int smoke_tables(Helper *h) {
        _cleanup_json_ cJSON *manifest = NULL, *counts = NULL, *drops = NULL;
        _cleanup_free_ char *manifest_path = NULL, *error = NULL, *lost = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        const char *backup = h->current.backup;
        const cJSON *tables, *t;
        size_t lost_size = 0;
        unsigned n_lost = 0, n_checked = 0, n_dropped = 0, n_fewer = 0;
        /* the other hosts of a cluster roll serve from the same database meanwhile, and their users may
         * delete rows: only a table gone is lost then */
        bool shared = current_database_shared(&h->current);
        PgTarget target;
        int r;

        log_status("smoke: checking every table of the backup manifest");

        if (!backup)
                return log_error_errno(
                        ENOENT,
                        "current.json records no backup: cannot check the tables against its manifest.");
        if (asprintf(&manifest_path, "%s/manifest.json", backup) < 0)
                return log_oom();
        r = state_read_json(manifest_path, &manifest);
        if (r < 0)
                return log_error_errno(r, "Failed to read the backup manifest %s: %m", manifest_path);
        /* the rows at the stop, once the snapshot phase counted them: rows deleted between the backup
         * and the stop are no loss */
        tables = cJSON_GetObjectItemCaseSensitive(manifest, "tables_at_stop");
        if (!cJSON_IsObject(tables))
                tables = cJSON_GetObjectItemCaseSensitive(manifest, "tables");
        if (!cJSON_IsObject(tables))
                return log_error_errno(
                        EBADMSG, "The backup manifest %s has no \"tables\" row counts.", manifest_path);

        r = collect_drops(h, &drops);
        if (r < 0)
                return r;

        r = helper_pg_target(h, h->config.db_name, &target);
        if (r < 0)
                return log_oom();
        r = pg_table_row_counts(&target, &counts, &error);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Failed to count the rows of database %s: %s",
                        h->config.db_name,
                        error ?: strerror(-r));

        f = open_memstream(&lost, &lost_size);
        if (!f)
                return log_oom();
        cJSON_ArrayForEach (t, tables) {
                const cJSON *now = cJSON_GetObjectItemCaseSensitive(counts, t->string);

                if (!cJSON_IsNumber(t))
                        return log_error_errno(
                                EBADMSG,
                                "The backup manifest %s has no row count for %s.",
                                manifest_path,
                                t->string);
                if (table_dropped(drops, t->string)) {
                        log_info(
                                "Table %s is declared dropped or rewritten by the release's migrations: not "
                                "compared.",
                                t->string);
                        n_dropped++;
                        continue;
                }
                n_checked++;
                if (!cJSON_IsNumber(now))
                        fprintf(f,
                                "%s%s is gone (had %.0f rows)",
                                n_lost++ ? ", " : "",
                                t->string,
                                t->valuedouble);
                else if (now->valuedouble < t->valuedouble && shared)
                        n_fewer++;
                else if (now->valuedouble < t->valuedouble)
                        fprintf(f,
                                "%s%s has %.0f rows, had %.0f",
                                n_lost++ ? ", " : "",
                                t->string,
                                now->valuedouble,
                                t->valuedouble);
        }
        if (fflush(f) != 0 || ferror(f))
                return log_oom();
        f = (fclose(f), NULL);

        if (n_lost > 0)
                return log_error_errno(
                        EUCLEAN, "Data lost since the backup in database %s: %s.", h->config.db_name, lost);
        if (n_fewer > 0)
                log_info(
                        "%u table%s fewer rows than at this host's backup: the other hosts of the cluster "
                        "roll serve meanwhile, so only a table gone counts as lost.",
                        n_fewer,
                        n_fewer == 1 ? " has" : "s have");
        log_info(
                "Every table of the backup manifest is there%s (%u compared, %u declared dropped).",
                shared ? "" : " with at least its rows",
                n_checked,
                n_dropped);
        return 0;
}

/* ---- (c) no error in the server's journal since its start ---- */

/* the server still runs the invocation whose journal was checked */
static int check_server_up(Helper *h, const char *invocation) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *now = NULL, *active = NULL, *sub = NULL;
        const char *unit = h->config.server_unit;
        int r;

        r = bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = bus_unit_get_invocation_id(bus, unit, &now);
        if (r < 0)
                return log_error_errno(r, "Failed to read the invocation id of %s: %m", unit);
        r = bus_unit_get_state(bus, unit, &active, &sub);
        if (r < 0)
                return log_error_errno(r, "Failed to read the state of %s: %m", unit);
        if (!streq(now, invocation))
                return log_error_errno(
                        ESTALE,
                        "%s restarted since it became ready (invocation %s, now %s, %s/%s).",
                        unit,
                        invocation,
                        now,
                        active,
                        sub);
        if (!streq(active, "active") || !streq(sub, "running"))
                return log_error_errno(ESRCH, "%s is %s/%s, not running.", unit, active, sub);
        return 0;
}

static int smoke_journal(Helper *h) {
        _cleanup_journal_watch_ JournalWatch *w = NULL;
        _cleanup_(regfreep) regex_t *pattern = NULL;
        _cleanup_free_ char *first = NULL;
        const char *invocation = h->current.server_invocation;
        const char *unit = h->config.server_unit;
        regex_t re;
        unsigned n_entries = 0, n_errors = 0;
        int first_priority = 0, r;
        usec_t settled;

        log_status("smoke: checking the server's journal for errors");

        if (!invocation)
                return log_error_errno(
                        ENOENT,
                        "current.json records no server invocation: cannot check the server's journal.");

        if (h->config.error_pattern && *h->config.error_pattern) {
                r = journal_compile_error_pattern(h->config.error_pattern, &re);
                if (r < 0)
                        return log_error_errno(
                                r,
                                "[Smoke] ErrorPattern=%s is not a valid regular expression.",
                                h->config.error_pattern);
                pattern = &re;
        }

        r = journal_watch_new_system(unit, invocation, &w);
        if (r < 0)
                return log_error_errno(r, "Failed to open the journal of %s: %m", unit);

        /* journald wakes readers in batches (every 250 ms): read on for a moment, so what the server
         * logged up to now is in */
        settled = now_monotonic() + JOURNAL_SETTLE;
        for (;;) {
                _cleanup_(journal_entry_done) JournalEntry e = {};
                struct pollfd p = { .fd = journal_watch_get_fd(w), .events = POLLIN };
                usec_t now;

                r = journal_watch_try_next(w, &e);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the journal of %s: %m", unit);
                if (r > 0) {
                        n_entries++;
                        if (journal_entry_is_error(&e, pattern) > 0 && n_errors++ == 0) {
                                first = strdup(strempty(e.message));
                                if (!first)
                                        return log_oom();
                                first_priority = e.priority;
                        }
                        continue;
                }

                if (helper_cancelled)
                        return log_error_errno(
                                ECANCELED, "Smoke test stopped by signal %d.", (int)helper_cancelled);
                now = now_monotonic();
                if (now >= settled)
                        break;
                r = poll(&p, 1, (int)((settled - now + 999) / 1000));
                if (r < 0 && errno != EINTR)
                        return log_error_errno(errno, "Failed to wait for the journal of %s: %m", unit);
                if (r > 0) {
                        r = journal_watch_process(w);
                        if (r < 0)
                                return log_error_errno(r, "Failed to follow the journal of %s: %m", unit);
                }
        }

        /* the server logged at least its ready line: nothing found means nothing was read */
        if (n_entries == 0)
                return log_error_errno(
                        ENODATA,
                        "The journal holds no entry of %s invocation %s: cannot check it for errors.",
                        unit,
                        invocation);
        if (n_errors > 0)
                return log_error_errno(
                        EUCLEAN,
                        "%s logged %u error%s since it started; the first (priority %d): %s",
                        unit,
                        n_errors,
                        n_errors == 1 ? "" : "s",
                        first_priority,
                        first);

        /* an exit or a restart that logged no error of its own */
        r = check_server_up(h, invocation);
        if (r < 0)
                return r;
        log_info("No error in %u journal entries of %s since it started.", n_entries, unit);
        return 0;
}

static int run(Helper *h) {
        int r, ret = 0;

        /* every check runs, so one failed upgrade reports everything that is wrong with it */
        r = smoke_http(h);
        if (r < 0)
                ret = r;
        if (helper_cancelled)
                return log_error_errno(ECANCELED, "Smoke test stopped by signal %d.", (int)helper_cancelled);

        r = smoke_tables(h);
        if (r < 0 && ret == 0)
                ret = r;
        if (helper_cancelled)
                return log_error_errno(ECANCELED, "Smoke test stopped by signal %d.", (int)helper_cancelled);

        /* last, so an error the steps themselves caused is in the journal by now */
        r = smoke_journal(h);
        if (r < 0 && ret == 0)
                ret = r;

        if (ret < 0)
                return ret;

        /* the site's checks once ours pass (a broken server must not wait out their timeouts before the
         * rollback), and only in the upgrade: the rollback's smoke test of the old release is ours alone */
        if (!h->for_rollback) {
                r = helper_run_hooks(h, HOOKS_SMOKE, NULL, NULL);
                if (r < 0)
                        return r;
        }
        log_status("smoke: passed");
        return 0;
}

int main(int argc, char *argv[]) {
        return helper_main(argc, argv, "smoke", 0, run);
}
