/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate-watch.c: the migrate phase: start the server and follow its migrations in the journal until ready
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <time.h>

#include "bus.h"
#include "helper.h"
#include "starting.h"
#include "current.h"
#include "journal.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "restore-point.h"
#include "paths.h"
#include "release.h"
#include "strv.h"

/* after the server's unit left, how long the journal may still bring the lines that explain why */
#define EXIT_GRACE USEC_PER_SEC
/* after the ready line, the server must stay up this long (and STATUS= says what was applied meanwhile,
 * rather than flashing past when the migrations were quick) */
#define READY_SETTLE USEC_PER_SEC
/* STATUS= names at most this many applied migrations */
#define STATUS_IDS_MAX 8

typedef enum WatchOutcome {
        WATCH_RUNNING,
        WATCH_READY,
        WATCH_FAILED,
} WatchOutcome;

typedef struct Watch {
        Helper *h;
        sd_bus *bus;
        JournalWatch *journal;
        char *invocation;

        cJSON *release;       /* the staged release's package.json */
        const cJSON *known;   /* its codebolt.migrations: [{id, breaking, drops}] */
        unsigned n_pending;   /* those not in the previous release; 0 when unknown */
        unsigned n_applying;  /* "applying" lines seen */
        char *in_flight;      /* the migration applying now, NULL when none */
        cJSON *applied;       /* ids applied in this start, in order */
        bool migrations_over; /* the summary line came */
        bool ready;           /* the ready line came: watching it stay up for READY_SETTLE */

        usec_t deadline;
        const char *deadline_name; /* "Ready=" or "Migrations=" */
        usec_t deadline_span;

        char *last_line; /* the server's last line, for every failure message */
} Watch;

static void watch_done(Watch *w) {
        journal_watch_free(w->journal);
        free(w->invocation);
        cJSON_Delete(w->release);
        free(w->in_flight);
        cJSON_Delete(w->applied);
        free(w->last_line);
}

static void set_deadline(Watch *w, const char *name, usec_t span) {
        w->deadline = helper_deadline(span);
        w->deadline_name = name;
        w->deadline_span = span;
}

/* ---- the release's migrations ---- */

static const cJSON *release_migrations(const cJSON *pkg) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(pkg, "codebolt"), "migrations");
        return cJSON_IsArray(m) ? m : NULL;
}

static const cJSON *find_migration(const cJSON *list, const char *id) {
        const cJSON *m;

        cJSON_ArrayForEach (m, list)
                if (streq_ptr(json_get_string(m, "id"), id))
                        return m;
        return NULL;
}

/* the staged release's migrations, and how many of them the previous release did not have (the ones
 * this start will apply) */
static int load_release(Watch *w) {
        _cleanup_json_ cJSON *previous = NULL;
        _cleanup_free_ char *previous_dir = NULL;
        const char *staged = w->h->current.staged_release;
        const char *from = w->h->current.from;
        const cJSON *m;
        int r;

        if (!staged)
                return log_error_errno(ENOENT, "current.json names no staged release: stage did not run.");
        r = release_package_json(staged, w->h->config.package, &w->release);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Failed to read the release metadata of %s in %s: %m",
                        w->h->config.package,
                        staged);
        w->known = release_migrations(w->release);

        /* the previous release's list is what its server applied already; without it "k of n" is "k" */
        if (from)
                previous_dir = paths_release_dir(from);
        if (previous_dir && release_package_json(previous_dir, w->h->config.package, &previous) >= 0) {
                const cJSON *done = release_migrations(previous);

                cJSON_ArrayForEach (m, w->known)
                        if (!find_migration(done, json_get_string(m, "id")))
                                w->n_pending++;
                log_info(
                        "Release %s brings %u migration%s.",
                        w->h->version,
                        w->n_pending,
                        w->n_pending == 1 ? "" : "s");
        } else
                log_info(
                        "The release metadata of %s is not installed: the migrations are counted as they "
                        "come.",
                        strempty(from));
        return 0;
}

/* ---- recording in current.json ---- */

typedef struct MigrationUpdate {
        const char *id;
        bool breaking;
        char **drops;
        const char *state;
} MigrationUpdate;

static int update_migration(Current *current, void *userdata) {
        const MigrationUpdate *u = userdata;
        return current_set_migration(current, u->id, u->breaking, u->drops, u->state);
}

static int record_migration(Watch *w, const char *id, const char *state) {
        _cleanup_strv_free_ char **drops = NULL;
        const cJSON *m = find_migration(w->known, id), *d;
        MigrationUpdate u = {
                .id = id,
                /* a migration the metadata does not declare may be anything: the rollback must assume
                 * it broke compatibility */
                .breaking = m ? cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "breaking")) : true,
                .state = state,
        };

        /* what smoke checks is gone: the names the metadata lists */
        cJSON_ArrayForEach (d, cJSON_GetObjectItemCaseSensitive(m, "drops"))
                if (cJSON_IsString(d) && strv_push(&drops, d->valuestring) < 0)
                        return log_oom();
        u.drops = drops;
        return helper_update_current(w->h, update_migration, &u);
}

/* the migration in flight is done (applied or failed) */
static int finish_in_flight(Watch *w, const char *state) {
        _cleanup_free_ char *id = TAKE_PTR(w->in_flight);
        int r;

        if (!id)
                return 0;
        r = record_migration(w, id, state);
        if (r < 0)
                return r;
        if (streq(state, "applied")) {
                cJSON *s = cJSON_CreateString(id);
                if (!s || !cJSON_AddItemToArray(w->applied, s)) {
                        cJSON_Delete(s);
                        return log_oom();
                }
        }
        return 0;
}

/* "a, b, c and 4 more" */
static char *applied_list(const Watch *w) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        const cJSON *id;
        size_t size = 0;
        int i = 0, n = cJSON_GetArraySize(w->applied);

        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        cJSON_ArrayForEach (id, w->applied) {
                if (i == STATUS_IDS_MAX) {
                        fprintf(f, " and %d more", n - i);
                        break;
                }
                fprintf(f, "%s%s", i++ ? ", " : "", id->valuestring);
        }
        if (fflush(f) != 0 || ferror(f))
                return NULL;
        f = (fclose(f), NULL);
        return TAKE_PTR(buf);
}

/* ---- the server's lines ---- */

static int fail_with(Watch *w, int error, const char *what) {
        return log_error_errno(
                error, "%s; the last line of its journal: '%s'", what, strempty(w->last_line));
}

/* the migration in flight (or, when none was announced, the one unannounced names) failed */
static int fail_migration(Watch *w, const char *unannounced) {
        _cleanup_free_ char *what = NULL;
        int r;

        if (asprintf(&what, "Migration %s failed", w->in_flight ?: unannounced) < 0)
                return log_oom();
        r = finish_in_flight(w, "failed");
        if (r < 0)
                return r;
        return fail_with(w, EIO, what);
}

/* the migration in flight (if any) is applied; *ret_applied = applied_list() */
static int finish_applied(Watch *w, char **ret_applied) {
        char *applied;
        int r;

        r = finish_in_flight(w, "applied");
        if (r < 0)
                return r;
        applied = applied_list(w);
        if (!applied)
                return log_oom();
        *ret_applied = applied;
        return 0;
}

/* the handlers below run after finish_applied(): applied is the list so far, "" for none */
static int on_applying(Watch *w, const char *id, const char *applied) {
        unsigned n;
        int r;

        w->in_flight = strdup(id);
        if (!w->in_flight)
                return log_oom();
        if (!find_migration(w->known, id))
                log_warning(
                        "Migration %s is not in the release metadata of %s: recorded as breaking.",
                        id,
                        w->h->version);
        r = record_migration(w, id, "applying");
        if (r < 0)
                return r;

        if (w->n_applying++ == 0)
                set_deadline(w, "Migrations=", w->h->config.timeout_migrations);

        /* the earlier ones stay on the line: a quick migration would otherwise flash past */
        n = w->n_pending > w->n_applying ? w->n_pending : w->n_applying;
        if (w->n_pending > 0)
                log_status(
                        "migrate: applying %s (%u of %u)%s%s",
                        id,
                        w->n_applying,
                        n,
                        *applied ? "; applied " : "",
                        applied);
        else
                log_status(
                        "migrate: applying %s (migration %u)%s%s",
                        id,
                        w->n_applying,
                        *applied ? "; applied " : "",
                        applied);
        return 0;
}

static int on_summary(Watch *w, const ServerLine *l, const char *applied) {
        w->migrations_over = true;
        set_deadline(w, "Ready=", w->h->config.timeout_ready);
        log_status(
                "migrate: %u migration%s applied%s%s; waiting for the server to be ready",
                l->applied,
                l->applied == 1 ? "" : "s",
                *applied ? ": " : "",
                applied);
        return 0;
}

static int on_ready(Watch *w, const ServerLine *l, const char *applied) {
        unsigned n;

        n = (unsigned)cJSON_GetArraySize(w->applied);
        if (l->port != w->h->config.port)
                log_warning(
                        "The server listens on :%u, not on [Server] Port=%u.", l->port, w->h->config.port);
        log_status(
                "migrate: server ready on :%u after %u migration%s%s%s",
                l->port,
                n,
                n == 1 ? "" : "s",
                *applied ? ": " : "",
                applied);
        return 0;
}

/* one journal entry: WATCH_RUNNING to go on, WATCH_READY, or -errno (logged) */
static int handle_entry(Watch *w, const JournalEntry *e) {
        _cleanup_(server_line_done) ServerLine l = {};
        _cleanup_free_ char *applied = NULL;
        int r;

        if (!e->message)
                return WATCH_RUNNING;
        free(w->last_line);
        w->last_line = strdup(e->message);
        if (!w->last_line)
                return log_oom();

        /* once ready, only whether it stays up matters */
        if (w->ready)
                return WATCH_RUNNING;

        r = journal_classify_line(e->message, &l);
        if (r < 0)
                return log_oom();

        if (l.kind == LINE_MIGRATIONS_FAILED)
                return fail_migration(w, "(before the first one)");
        if (l.kind == LINE_MIGRATIONS_SUMMARY && l.failed > 0)
                return fail_migration(w, "(not announced)");
        if (l.kind == LINE_OTHER)
                return WATCH_RUNNING;

        r = finish_applied(w, &applied);
        if (r < 0)
                return r;

        switch (l.kind) {
        case LINE_MIGRATION_APPLYING:
                r = on_applying(w, l.migration_id, applied);
                break;
        case LINE_MIGRATIONS_SUMMARY:
                r = on_summary(w, &l, applied);
                break;
        case LINE_READY:
                r = on_ready(w, &l, applied);
                return r < 0 ? r : WATCH_READY;
        default:
                r = 0;
        }
        return r < 0 ? r : WATCH_RUNNING;
}

/* every entry the journal has for us right now */
static int read_journal(Watch *w) {
        int r;

        for (;;) {
                _cleanup_(journal_entry_done) JournalEntry e = {};

                r = journal_watch_try_next(w->journal, &e);
                if (r < 0)
                        return log_error_errno(
                                r, "Failed to read the journal of %s: %m", w->h->config.server_unit);
                if (r == 0)
                        return WATCH_RUNNING;
                r = handle_entry(w, &e);
                if (r != WATCH_RUNNING)
                        return r;
        }
}

/* ---- the server's unit ---- */

static bool state_is_up(const char *active, const char *sub) {
        /* activating/auto-restart is a service that exited and waits to be started again */
        if (streq(active, "activating"))
                return !streq(sub, "auto-restart");
        return streq(active, "active") || streq(active, "reloading");
}

/* 0 while the invocation we follow is up; 1 when it left or restarted (*ret_what says how); -errno */
static int check_unit(Watch *w, char **ret_what) {
        _cleanup_free_ char *id = NULL, *active = NULL, *sub = NULL;
        const char *unit = w->h->config.server_unit;
        int r;

        r = bus_unit_get_invocation_id(w->bus, unit, &id);
        if (r < 0)
                return log_error_errno(r, "Failed to read the invocation id of %s: %m", unit);
        r = bus_unit_get_state(w->bus, unit, &active, &sub);
        if (r < 0)
                return log_error_errno(r, "Failed to read the state of %s: %m", unit);

        if (!streq(id, w->invocation)) {
                if (asprintf(
                            ret_what,
                            "%s restarted (invocation %s, now %s, %s/%s)",
                            unit,
                            w->invocation,
                            id,
                            active,
                            sub) < 0)
                        return log_oom();
                return 1;
        }
        if (!state_is_up(active, sub)) {
                if (asprintf(ret_what, "%s exited (%s/%s)", unit, active, sub) < 0)
                        return log_oom();
                return 1;
        }
        return 0;
}

/* dispatch what the bus has; >0 when something came */
static int process_bus(Watch *w) {
        int r, n = 0;

        for (;;) {
                r = sd_bus_process(w->bus, NULL);
                if (r < 0)
                        return log_error_errno(r, "Failed to process the system bus: %m");
                if (r == 0)
                        return n;
                n++;
        }
}

/* the unit is gone: give the journal a moment to bring the lines that say why, then fail */
static int fail_exited(Watch *w, const char *what) {
        usec_t until = now_monotonic() + EXIT_GRACE;
        struct pollfd p = { .fd = journal_watch_get_fd(w->journal), .events = POLLIN };
        int r;

        for (;;) {
                usec_t now;

                r = read_journal(w);
                if (r < 0)
                        return r; /* a failure line explains it better: already logged */
                if (r == WATCH_READY)
                        break;
                now = now_monotonic();
                if (now >= until || helper_cancelled)
                        break;
                r = poll(&p, 1, (int)((until - now + 999) / 1000));
                if (r < 0 && errno != EINTR)
                        break;
                if (r > 0)
                        (void)journal_watch_process(w->journal);
        }
        return fail_with(w, ESRCH, what);
}

static int check_unit_and_bus(Watch *w) {
        int r, n;

        /* reading the properties may queue signals behind the replies, where poll() cannot see them:
         * dispatch until quiet, and check again whenever something came */
        do {
                _cleanup_free_ char *what = NULL;

                r = check_unit(w, &what);
                if (r < 0)
                        return r;
                if (r > 0)
                        return fail_exited(w, what);
                n = process_bus(w);
                if (n < 0)
                        return n;
        } while (n > 0);
        return 0;
}

/* the earliest of the deadline and what the bus and the journal ask for; NULL: no end */
static struct timespec *poll_timeout(Watch *w, usec_t now, struct timespec *ts) {
        uint64_t bus_until = UINT64_MAX;
        usec_t journal_until = USEC_INFINITY, until = w->deadline;

        if (sd_bus_get_timeout(w->bus, &bus_until) > 0 && bus_until < until)
                until = bus_until;
        if (journal_watch_get_timeout(w->journal, &journal_until) >= 0 && journal_until < until)
                until = journal_until;
        if (until == USEC_INFINITY)
                return NULL;
        until = until > now ? until - now : 0;
        *ts = (struct timespec){ .tv_sec = (time_t)(until / USEC_PER_SEC),
                                 .tv_nsec = (long)(until % USEC_PER_SEC) * 1000 };
        return ts;
}

static int follow(Watch *w) {
        sigset_t term, saved;
        int r;

        /* SIGTERM gets through only inside ppoll(): one between the check and the wait is not lost */
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        sigaddset(&term, SIGINT);
        sigprocmask(SIG_BLOCK, &term, &saved);

        for (;;) {
                struct pollfd p[2];
                struct timespec ts;
                usec_t now;
                int events;

                r = read_journal(w);
                if (r < 0)
                        break;
                if (r == WATCH_READY && !w->ready) {
                        w->ready = true;
                        set_deadline(w, NULL, READY_SETTLE);
                }
                r = check_unit_and_bus(w);
                if (r < 0)
                        break;

                if (helper_cancelled) {
                        r = fail_with(w, ECANCELED, "Stopped by a signal while following the migrations");
                        break;
                }
                now = now_monotonic();
                if (w->ready && now >= w->deadline) {
                        r = 0;
                        break;
                }
                if (w->deadline != USEC_INFINITY && now >= w->deadline) {
                        _cleanup_free_ char *what = NULL;
                        unsigned long long span = w->deadline_span / USEC_PER_SEC;

                        if (w->in_flight)
                                r = asprintf(
                                        &what,
                                        "Migration %s still running when [Timeouts] %s%llus ran out",
                                        w->in_flight,
                                        w->deadline_name,
                                        span);
                        else
                                r = asprintf(
                                        &what,
                                        "%s not ready when [Timeouts] %s%llus ran out",
                                        w->h->config.server_unit,
                                        w->deadline_name,
                                        span);
                        if (r < 0) {
                                r = log_oom();
                                break;
                        }
                        r = fail_with(w, ETIME, what);
                        break;
                }

                events = sd_bus_get_events(w->bus);
                if (events < 0) {
                        r = log_error_errno(events, "Lost the connection to the system bus: %m");
                        break;
                }
                p[0] = (struct pollfd){ .fd = journal_watch_get_fd(w->journal), .events = POLLIN };
                p[1] = (struct pollfd){ .fd = sd_bus_get_fd(w->bus), .events = (short)events };
                r = ppoll(p, 2, poll_timeout(w, now, &ts), &saved);
                if (r < 0 && errno != EINTR) {
                        r = log_error_errno(errno, "Failed to wait for the journal and the bus: %m");
                        break;
                }
                /* after any wakeup: the journal's own timeout needs it as much as its fd */
                r = journal_watch_process(w->journal);
                if (r < 0) {
                        r = log_error_errno(
                                r, "Failed to follow the journal of %s: %m", w->h->config.server_unit);
                        break;
                }
        }

        sigprocmask(SIG_SETMASK, &saved, NULL);
        return r < 0 ? r : 0;
}

static int start_server(Watch *w) {
        _cleanup_free_ char *result = NULL, *error = NULL;
        const char *unit = w->h->config.server_unit;
        usec_t span = w->h->config.timeout_migrations, deadline;
        int r;

        /* a Type=notify server finishes its start job only once ready: give the job both deadlines */
        if (span != USEC_INFINITY && w->h->config.timeout_ready != USEC_INFINITY &&
            span <= USEC_INFINITY - 1 - w->h->config.timeout_ready)
                span += w->h->config.timeout_ready;
        else
                span = USEC_INFINITY;
        deadline = helper_deadline(span);

        log_status("migrate: starting %s", unit);
        r = helper_starting_begin(w->h);
        if (r < 0)
                return r;
        r = bus_start_unit(w->bus, unit, deadline, &result, &error);
        helper_starting_end(w->h);
        if (helper_cancelled)
                return log_error_errno(
                        ECANCELED, "Stopped by signal %d while starting %s.", (int)helper_cancelled, unit);
        if (r < 0)
                return log_error_errno(r, "Failed to start %s: %s", unit, error ?: strerror(-r));
        if (!streq(result, "done"))
                return log_error_errno(
                        bus_job_result_to_errno(result) ?: EIO,
                        "Starting %s ended with job result '%s' (journalctl -u %s says why).",
                        unit,
                        result,
                        unit);

        r = bus_unit_get_invocation_id(w->bus, unit, &w->invocation);
        if (r < 0)
                return log_error_errno(r, "Failed to read the invocation id of %s: %m", unit);
        if (!*w->invocation)
                return log_error_errno(ESRCH, "%s has no invocation id after its start.", unit);

        r = helper_set_current_string(
                w->h, CURRENT_SERVER_INVOCATION, offsetof(Current, server_invocation), w->invocation);
        if (r < 0)
                return r;
        log_info("Started %s (invocation %s); following its migrations.", unit, w->invocation);
        return 0;
}

static int run(Helper *h) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_(watch_done) Watch w = { .h = h };
        int r;

        w.applied = cJSON_CreateArray();
        if (!w.applied)
                return log_oom();

        r = load_release(&w);
        if (r < 0)
                return r;

        r = bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        w.bus = bus;

        /* Ready= runs from the start until the first migration line, Migrations= while they run, Ready=
         * again after the last one */
        set_deadline(&w, "Ready=", h->config.timeout_ready);

        r = start_server(&w);
        if (r < 0)
                return r;

        r = journal_watch_new_system(h->config.server_unit, w.invocation, &w.journal);
        if (r < 0)
                return log_error_errno(r, "Failed to open the journal of %s: %m", h->config.server_unit);
        r = bus_unit_watch_properties(bus, h->config.server_unit, &slot);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the state of %s: %m", h->config.server_unit);

        r = follow(&w);
        if (r < 0)
                return r;

        /* the server is back: the snapshot, frozen at the stop, is counted now rather than in the
         * downtime. A failure leaves the count to a rollback, which counts before it restores; the server
         * itself is fine, so the upgrade goes on. */
        if (!h->for_rollback && restore_point_record_counts(h) < 0)
                log_warning("The restore point's rows are not recorded; a rollback counts them itself.");
        return 0;
}

int main(int argc, char *argv[]) {
        return helper_main(argc, argv, "migrate", 0, run);
}
