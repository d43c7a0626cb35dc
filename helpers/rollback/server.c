/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* server.c: the server unit over D-Bus: stop it and wait, or restart it to undo a drain */
#define _GNU_SOURCE
#include <unistd.h>
#include <systemd/sd-bus.h>

#include "bus.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "macro.h"
#include "rollback.h"
#include "server.h"
#include "starting.h"

/* how long /health may take when deciding whether a drain needs undoing */
#define HEALTH_TIMEOUT (10 * USEC_PER_SEC)

static int rb_bus(Rollback *rb, sd_bus **ret) {
        int r;

        if (!rb->bus) {
                r = bus_open_system(&rb->bus);
                if (r < 0)
                        return rb_fail(rb, r, "Failed to connect to the system bus: %m");
        }
        *ret = rb->bus;
        return 0;
}

static usec_t add_timeouts(usec_t a, usec_t b) {
        return a == USEC_INFINITY || b == USEC_INFINITY || a > USEC_INFINITY - 1 - b ? USEC_INFINITY : a + b;
}

/* stop it and wait: the new version may be running, or restarting after a crash (Restart=) */
int stop_server(Rollback *rb) {
        _cleanup_(bus_stop_failure_done) BusStopFailure f = {};
        const char *unit = rb->h->config.server_unit;
        sd_bus *bus = NULL;
        int r;

        r = rb_bus(rb, &bus);
        if (r < 0)
                return r;
        log_status("rollback: stopping %s", unit);
        r = bus_stop_unit_verified(
                bus, unit, helper_deadline(rb->h->config.timeout_drain), BUS_STOP_FAILED_IS_STOPPED, &f);
        if (helper_cancelled)
                return rb_fail(
                        rb,
                        ECANCELED,
                        "Stopped by signal %d while stopping %s.",
                        (int)helper_cancelled,
                        unit);
        if (r < 0)
                switch (f.step) {
                case BUS_STOP_STEP_JOB:
                        return rb_fail(rb, r, "Failed to stop %s: %s", unit, f.error ?: strerror(-r));
                case BUS_STOP_STEP_JOB_RESULT:
                        return rb_fail(rb, r, "Stopping %s ended with job result '%s'.", unit, f.job_result);
                case BUS_STOP_STEP_READ_STATE:
                        return rb_fail(rb, r, "Failed to read the state of %s after stopping it: %m", unit);
                case BUS_STOP_STEP_NOT_STOPPED:
                default:
                        return rb_fail(
                                rb,
                                r,
                                "%s is %s (%s) after its stop job, not stopped.",
                                unit,
                                f.active_state,
                                f.sub_state);
                }
        log_info("%s is stopped.", unit);
        return 0;
}

/* the drain told the server to take no new runs, and the upgrade failed before stopping it: a restart
 * brings it back taking runs (the stop waits for the runs in flight, as drain would have) */
int undo_drain(Rollback *rb) {
        _cleanup_free_ char *active = NULL, *sub = NULL, *url = NULL, *result = NULL, *error = NULL;
        const char *unit = rb->h->config.server_unit;
        long status = 0;
        sd_bus *bus = NULL;
        int r;

        r = rb_bus(rb, &bus);
        if (r < 0)
                return r;
        r = bus_unit_get_state(bus, unit, &active, &sub);
        if (r < 0)
                return rb_fail(rb, r, "Failed to read the state of %s: %m", unit);
        if (!streq(active, "active")) {
                log_notice("%s is %s (%s): there is no drain to undo.", unit, active, sub);
                return 0;
        }
        url = helper_server_url(rb->h, "/health");
        if (!url)
                return rb_oom(rb);
        if (http_json("GET", url, NULL, NULL, HEALTH_TIMEOUT, &status, NULL, NULL) >= 0 && status == 200) {
                log_info("%s answers /health with 200: it was not draining, nothing to undo.", unit);
                return 0;
        }

        log_status("rollback: restarting %s, which was told to take no new agent runs", unit);
        /* a start of the server is never made under the lock (its start condition may read the state) */
        helper_unlock(rb->h);
        r = helper_starting_begin(rb->h);
        if (r < 0)
                return rb_fail(rb, r, "Failed to let the restart of %s through its start condition.", unit);
        r = bus_restart_unit(
                bus,
                unit,
                helper_deadline(add_timeouts(rb->h->config.timeout_drain, rb->h->config.timeout_ready)),
                &result,
                &error);
        helper_starting_end(rb->h);
        if (r < 0)
                return rb_fail(
                        rb, r, "Failed to restart %s to undo the drain: %s", unit, error ?: strerror(-r));
        if (!streq(result, "done"))
                return rb_fail(
                        rb,
                        bus_job_result_to_errno(result) ?: EIO,
                        "Restarting %s to undo the drain ended with job result '%s' (journalctl -u %s says "
                        "why).",
                        unit,
                        result,
                        unit);
        /* the job is done once the process runs; the drain is undone once the server answers again */
        for (usec_t until = helper_deadline(rb->h->config.timeout_ready);;) {
                if (http_json("GET", url, NULL, NULL, HEALTH_TIMEOUT, &status, NULL, NULL) >= 0 &&
                    status == 200)
                        break;
                if (now_monotonic() >= until || helper_cancelled) {
                        log_warning(
                                "%s was restarted but does not answer /health with 200 within [Timeouts] "
                                "Ready=: see journalctl -u %s.",
                                unit,
                                unit);
                        break;
                }
                (void)usleep(USEC_PER_SEC / 4);
        }
        r = rb_relock(rb);
        if (r < 0)
                return r;
        if (status == 200)
                log_notice("Restarted %s: it answers /health and takes agent runs again.", unit);
        return 0;
}
