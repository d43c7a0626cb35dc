/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* helper.c: what every phase helper does the same way: arguments, config, signals, lock, current.json */
#define _GNU_SOURCE
#include <langinfo.h>
#include <locale.h>
#include <sys/resource.h>
#include <time.h>

#include "cescape.h"
#include "current.h"
#include "events.h"
#include "helper.h"
#include "roll.h"
#include "json-util.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "message-ids.h"
#include "metrics-file.h"
#include "paths.h"
#include "semver.h"
#include "spawn.h"
#include "unitname.h"
#include "time-util.h"

volatile sig_atomic_t helper_cancelled = 0;

static void on_term(int sig) {
        helper_cancelled = sig;
}

/* at debug level (CODEBOLT_UPGRADE_LOG_LEVEL=debug), what the helper took of memory at most: its own
 * process, and apart from it the largest child it ran (pg_dump, rsync, a libpq session's fork).
 * bench/downtime.sh reads these lines. */
static void log_peak_memory(const Helper *h) {
        struct rusage self, children;

        if (getrusage(RUSAGE_SELF, &self) < 0 || getrusage(RUSAGE_CHILDREN, &children) < 0)
                return;
        log_debug(
                "%s: peak memory %ld kB, largest child %ld kB.",
                h->phase,
                self.ru_maxrss,
                children.ru_maxrss);
}

static void helper_done(Helper *h) {
        log_peak_memory(h);
        helper_unlock(h);
        current_done(&h->current);
        config_done(&h->config);
        free(h->instance);
        free(h->version);
        free(h->upgrade_id);
}

usec_t helper_deadline(usec_t timeout) {
        if (timeout == USEC_INFINITY)
                return USEC_INFINITY;
        return now_monotonic() + timeout;
}

int helper_lock(Helper *h) {
        if (h->lock_fd >= 0)
                return 0;
        return lock_acquire_deployment(h->config.deployment, true, &h->lock_fd);
}

void helper_unlock(Helper *h) {
        if (h->lock_fd >= 0)
                close(h->lock_fd);
        h->lock_fd = -EBADF;
}

/* current.json must be the one this upgrade unit made: its id is our $INVOCATION_ID, or, run by hand,
 * its instance is ours */
static int helper_check_current(Helper *h, const Current *current) {
        if (h->upgrade_id && !h->for_rollback ? streq_ptr(current->id, h->upgrade_id)
                                              : streq_ptr(current->instance, h->instance))
                return 0;
        return log_error_errno(
                ESTALE,
                "current.json belongs to another upgrade (to %s, %s, id %s), not to this "
                "one: refusing to act.",
                strempty(current->to),
                strempty(current->unit),
                strempty(current->id));
}

static int helper_reload_current(Helper *h) {
        _cleanup_(current_done) Current c = {};
        _cleanup_free_ char *error = NULL;
        int r;

        r = current_load(h->config.deployment, &c, &error);
        if (r == -ENOENT)
                return log_error_errno(
                        r,
                        "No upgrade is in flight for deployment %s (no current.json): preflight did not "
                        "run.",
                        h->config.deployment);
        if (r < 0 && error)
                return log_error_errno(
                        r, "Failed to read current.json of deployment %s: %s", h->config.deployment, error);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to read current.json of deployment %s: %m", h->config.deployment);
        r = helper_check_current(h, &c);
        if (r < 0)
                return r;
        current_done(&h->current);
        h->current = c;
        c = (Current){};
        return 0;
}

int helper_update_current(Helper *h, int (*update)(Current *current, void *userdata), void *userdata) {
        bool locked_here = h->lock_fd < 0;
        int r;

        r = helper_lock(h);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to take the state lock of deployment %s: %m", h->config.deployment);
        r = helper_reload_current(h);
        if (r >= 0) {
                r = update(&h->current, userdata);
                if (r < 0)
                        log_error_errno(r, "Failed to update current.json: %m");
        }
        if (r >= 0) {
                r = current_save(h->config.deployment, &h->current);
                if (r < 0)
                        log_error_errno(r, "Failed to write current.json: %m");
        }
        if (locked_here)
                helper_unlock(h);
        return r;
}

typedef struct FieldValue {
        CurrentKey key;
        size_t offset;
        const char *string;
        int boolean; /* -1: a string */
} FieldValue;

static int update_field(Current *current, void *userdata) {
        const FieldValue *fv = userdata;
        char *field = (char *)current + fv->offset;

        if (fv->boolean >= 0)
                *(bool *)(void *)field = fv->boolean;
        else {
                char *copy = NULL;

                if (fv->string && !(copy = strdup(fv->string)))
                        return -ENOMEM;
                free(*(char **)(void *)field);
                *(char **)(void *)field = copy;
        }
        current->present |= CURRENT_KEY_BIT(fv->key);
        return 0;
}

int helper_set_current_string(Helper *h, CurrentKey key, size_t offset, const char *value) {
        FieldValue fv = { key, offset, value, -1 };
        return helper_update_current(h, update_field, &fv);
}

int helper_set_current_bool(Helper *h, CurrentKey key, size_t offset, bool value) {
        FieldValue fv = { key, offset, NULL, value };
        return helper_update_current(h, update_field, &fv);
}

static int update_enter(Current *current, void *userdata) {
        return current_set_phase(current, userdata);
}

typedef struct PhaseLeft {
        const char *phase;
        double seconds;
} PhaseLeft;

static int update_leave(Current *current, void *userdata) {
        const PhaseLeft *left = userdata;
        int r;

        r = current_phase_done(current, left->phase);
        if (r < 0)
                return r;
        return current_set_phase_seconds(current, left->phase, left->seconds);
}

bool helper_locale_is_utf8(void) {
        const char *codeset;
        bool utf8 = false;

        if (setlocale(LC_CTYPE, "") && (codeset = nl_langinfo(CODESET)))
                utf8 = streq(codeset, "UTF-8");
        setlocale(LC_CTYPE, "C");
        return utf8;
}

double helper_seconds(const Helper *h) {
        return (double)(clock_usec(CLOCK_MONOTONIC) - h->started) / USEC_PER_SEC;
}

/* a phase of the upgrade unit itself, not the rollback or one of its --rollback helpers */
static bool helper_is_upgrade_phase(const Helper *h) {
        /* the rollback and the watch after a success run for an upgrade, not as one of its phases */
        return !h->for_rollback && !streq(h->phase, "rollback") && !streq(h->phase, "watch");
}

/* "CODEBOLT_UPGRADE_FROM=<from>" when current.json says, else NULL */
static char *from_field(const Helper *h) {
        const char *from = h->current.from;
        char *f;

        if (!from || asprintf(&f, "CODEBOLT_UPGRADE_FROM=%s", from) < 0)
                return NULL;
        return f;
}

/* the catalog's "failed" event, with the reason the phase logged last; returns the exit code 1 */
static int helper_failed(Helper *h) {
        _cleanup_free_ char *why = NULL, *reason = NULL, *from = from_field(h);
        _cleanup_json_ cJSON *notify = NULL;

        if (!helper_is_upgrade_phase(h))
                return 1;
        /* copied: the event below becomes the last error itself */
        why = strdup(log_last_error() ?: "see the journal");
        if (!why || asprintf(&reason, "CODEBOLT_UPGRADE_REASON=%s", why) < 0)
                return log_oom(), 1;
        char *fields[] = { reason, from, NULL };
        log_event(
                LOG_ERR,
                MESSAGE_UPGRADE_FAILED,
                fields,
                "Upgrade to %s failed in phase %s: %s",
                strempty(h->version),
                h->phase,
                why);

        /* the phase is over: the webhook may take its whole timeout, but not under the state lock */
        helper_unlock(h);
        notify = cJSON_CreateObject();
        if (notify && cJSON_AddStringToObject(notify, "reason", why))
                helper_notify(h, "failed", notify);
        else
                log_warning("Out of memory: not sending the failed notification.");
        return 1;
}

static void usage(const char *name, const char *phase) {
        fprintf(stderr,
                "Usage: %s [--skip-if-current] [--queue-if-failed] INSTANCE\n"
                "The %s phase of codebolt-upgrade@INSTANCE.service; INSTANCE is the unit's %%i (an exact "
                "version).\n",
                name,
                phase);
}

int helper_config_load(const char *deployment, Config *ret, const char *consequence) {
        ConfigError cerr = {};
        int r;

        r = config_load(NULL, deployment, ret, &cerr);
        if (r < 0) {
                /* a drop-in's name comes from a directory listing and may hold a newline: escaped, it
                 * cannot forge a line of the log */
                _cleanup_free_ char *file = cescape(strempty(cerr.file)), *key = cescape(strempty(cerr.key));

                log_error_errno(
                        r,
                        "%s:%u: %s%s%s%s%s",
                        strempty(file),
                        cerr.line,
                        strempty(key),
                        cerr.key ? ": " : "",
                        strempty(cerr.message),
                        consequence ? ": " : "",
                        strempty(consequence));
                config_error_done(&cerr);
                return r;
        }
        /* every path under the deployment's install root follows its InstallRoot= from here on */
        if (paths_set_install_root(ret->install_root) < 0)
                return log_oom();
        return 0;
}

/* helper_main() up to the metrics file */
static int helper_main_run(Helper *h, int argc, char *argv[], HelperFlags flags, int (*run)(Helper *h)) {
        const char *phase = h->phase;
        struct sigaction sa = { .sa_handler = on_term };
        SemVer v = {};
        const char *deployment, *id;
        int r;

        log_setup(NULL, phase);
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        spawn_set_cancel_flag(&helper_cancelled);

        if (argc < 2 || streq(argv[argc - 1], "--help")) {
                usage(argv[0], phase);
                return 2;
        }
        h->argc = argc - 1;
        h->argv = argv;
        h->for_rollback = argc > 2 && streq(argv[1], "--rollback");
        if (h->for_rollback)
                flags |= HELPER_KEEPS_PHASE;

        h->instance = strdup(argv[argc - 1]);
        if (!h->instance)
                return log_oom(), 1;
        r = unitname_unescape(h->instance, &h->version);
        if (r < 0) {
                log_error_errno(
                        r, "The unit instance '%s' is not a valid escaped unit name part: %m", h->instance);
                return 1;
        }
        log_set_version(h->version);

        r = semver_parse(h->version, &v);
        semver_done(&v);
        if (r < 0 && !(flags & HELPER_ANY_VERSION)) {
                log_error("Refusing '%s': %s.", h->version, semver_why_invalid(h->version));
                return helper_failed(h);
        }

        deployment = getenv("CODEBOLT_DEPLOYMENT");
        r = helper_config_load(deployment, &h->config, NULL);
        if (r < 0)
                return 2;
        log_set_deployment(h->config.deployment);

        id = getenv("INVOCATION_ID");
        if (id && *id) {
                h->upgrade_id = strdup(id);
                if (!h->upgrade_id)
                        return log_oom(), 1;
        }

        if (flags & HELPER_KEEPS_PHASE) {
                /* only that current.json belongs to this upgrade */
                r = helper_lock(h);
                if (r >= 0)
                        r = helper_reload_current(h);
                helper_unlock(h);
                if (r < 0)
                        return 1;
        } else if (!(flags & HELPER_NO_CURRENT)) {
                r = helper_update_current(h, update_enter, (void *)phase);
                if (r < 0)
                        return helper_failed(h);
        }

        /* in a cluster roll, the other hosts see this phase working */
        if (!(flags & HELPER_NO_CURRENT))
                roll_heartbeat_start(h);
        r = run(h);
        roll_heartbeat_stop();
        if (r < 0)
                return helper_failed(h);
        if (helper_cancelled) {
                log_error("Stopped by signal %d during %s.", (int)helper_cancelled, phase);
                return helper_failed(h);
        }
        if (r > 0)
                return r;

        if (!(flags & (HELPER_NO_CURRENT | HELPER_ENDS_UPGRADE | HELPER_KEEPS_PHASE))) {
                PhaseLeft left = { phase, helper_seconds(h) };
                r = helper_update_current(h, update_leave, &left);
                if (r < 0)
                        return helper_failed(h);
        }
        if (helper_is_upgrade_phase(h)) {
                char *fields[] = { from_field(h), NULL };
                log_event(
                        LOG_INFO,
                        MESSAGE_PHASE_COMPLETED,
                        fields[0] ? fields : NULL,
                        "Upgrade to %s: phase %s completed.",
                        h->version,
                        phase);
                free(fields[0]);
        }
        return 0;
}

int helper_main(int argc, char *argv[], const char *phase, HelperFlags flags, int (*run)(Helper *h)) {
        _cleanup_(helper_done) Helper h = { .phase = phase, .lock_fd = -EBADF };
        int r;

        h.started = clock_usec(CLOCK_MONOTONIC);
        r = helper_main_run(&h, argc, argv, flags, run);
        /* whatever the phase did to the state, succeeded or failed: [Notify] MetricsFile= shows it (under
         * the state lock, taken only when there is a file to write) */
        if (h.config.deployment && h.config.notify_metrics_file && helper_lock(&h) >= 0) {
                metrics_update(&h.config);
                helper_unlock(&h);
        }
        return r;
}
