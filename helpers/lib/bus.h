/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bus.h: the server unit and logind over D-Bus (org.freedesktop.systemd1, org.freedesktop.login1) */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

#include "time-util.h"

/* a connection to the system bus (sd_bus_open_system()); -errno when there is none */
int bus_open_system(sd_bus **ret);

/* StartUnit/StopUnit/RestartUnit with mode "replace", and wait for that job's JobRemoved (the match is
 * installed before the call). Returns 0 once the job is gone, whatever its result: *ret_result is
 * systemd's job result ("done", "failed", "canceled", "timeout", "dependency", "skipped", ...; see
 * bus_job_result_to_errno()). -ETIME when deadline (CLOCK_MONOTONIC usec, USEC_INFINITY: none) passes
 * first; the job is left queued. On failure, *ret_error (optional) is set to the D-Bus error message or
 * another line of context, or NULL; on success it is left alone. */
int bus_start_unit(sd_bus *bus, const char *unit, usec_t deadline, char **ret_result, char **ret_error);
int bus_stop_unit(sd_bus *bus, const char *unit, usec_t deadline, char **ret_result, char **ret_error);
int bus_restart_unit(sd_bus *bus, const char *unit, usec_t deadline, char **ret_result, char **ret_error);

typedef enum BusStopFlags {
        BUS_STOP_FAILED_IS_STOPPED = 1 << 0, /* ActiveState "failed" after the job counts as stopped too */
} BusStopFlags;

/* the step of bus_stop_unit_verified() that failed */
typedef enum BusStopStep {
        BUS_STOP_STEP_JOB,         /* the stop job was not queued or not over by the deadline: error */
        BUS_STOP_STEP_JOB_RESULT,  /* the job ended with a result other than "done": job_result */
        BUS_STOP_STEP_READ_STATE,  /* the unit's state could not be read after the job */
        BUS_STOP_STEP_NOT_STOPPED, /* the unit is still active_state (sub_state) after the job */
} BusStopStep;

/* what bus_stop_unit_verified() tells of a failure, for the caller's one log line; the strings not
 * named by the step are NULL */
typedef struct BusStopFailure {
        BusStopStep step;
        char *error;                    /* BUS_STOP_STEP_JOB: as bus_stop_unit()'s ret_error, may be NULL */
        char *job_result;               /* BUS_STOP_STEP_JOB_RESULT */
        char *active_state, *sub_state; /* BUS_STOP_STEP_NOT_STOPPED */
} BusStopFailure;

/* frees the strings of a BusStopFailure (for _cleanup_) */
void bus_stop_failure_done(BusStopFailure *f);

/* Stop the unit and make sure it stopped: bus_stop_unit() with deadline, the job's result "done", and
 * then ActiveState "inactive" (or "failed" with BUS_STOP_FAILED_IS_STOPPED). On failure, returns the
 * step's -errno: bus_stop_unit()'s, bus_job_result_to_errno() (-EIO when that says 0, as for
 * "skipped"), bus_unit_get_state()'s, or -EBUSY when the unit is not stopped; and fills *ret_failure
 * (optional; untouched on success). */
int bus_stop_unit_verified(
        sd_bus *bus, const char *unit, usec_t deadline, BusStopFlags flags, BusStopFailure *ret_failure);

/* 0 for "done" and "skipped", else a distinct -errno: canceled/collected -ECANCELED, timeout -ETIMEDOUT
 * (not -ETIME: that is our own deadline), failed -EIO, dependency -ENOLINK, invalid -ENOEXEC, assert
 * -EPROTO, unsupported -EOPNOTSUPP, once -ESTALE; -EBADMSG for a result this code does not know. */
int bus_job_result_to_errno(const char *result);

/* The unit's object path: GetUnit, or LoadUnit when the unit is not loaded (an inactive unit). Getters
 * below fail with the errno sd-bus maps the D-Bus error to (e.g. NoSuchUnit: -ENOENT). */
int bus_unit_get_path(sd_bus *bus, const char *unit, char **ret_path);
/* Unit.InvocationID as 32 lowercase hex chars; "" when the unit has none (never started) */
int bus_unit_get_invocation_id(sd_bus *bus, const char *unit, char **ret_hex);
/* Unit.ActiveState and Unit.SubState, e.g. "active" "running" */
int bus_unit_get_state(sd_bus *bus, const char *unit, char **ret_active_state, char **ret_sub_state);
/* a string property; interface is "Service" or "org.freedesktop.systemd1.Service" (e.g. Service.User) */
int bus_unit_get_string(
        sd_bus *bus, const char *unit, const char *interface, const char *property, char **ret);
/* Service.MainPID, 0 when the service has no main process */
int bus_unit_get_main_pid(sd_bus *bus, const char *unit, uint32_t *ret);

/* Ask for the unit's PropertiesChanged signals (a match, and Manager.Subscribe(), without which
 * systemd does not send them). The match only wakes the caller: after polling the bus fd
 * (sd_bus_get_fd) along with the journal fd, run sd_bus_process() and read the state anew. Unref the
 * slot to stop. */
int bus_unit_watch_properties(sd_bus *bus, const char *unit, sd_bus_slot **ret_slot);

/* org.freedesktop.login1.Manager.Inhibit(what, who, why, mode): the lock lives as long as the
 * returned fd (O_CLOEXEC) is open. mode is "block" or "delay". */
int bus_logind_inhibit(
        sd_bus *bus, const char *what, const char *who, const char *why, const char *mode, int *ret_fd);

/* an id128 as D-Bus carries it (ay): 16 bytes as 32 lowercase hex chars, none or all zero as "";
 * -EBADMSG for any other length */
int bus_invocation_id_to_hex(const void *bytes, size_t size, char **ret);
/* Service.MemoryCurrent in bytes; -ENODATA when systemd does not account the unit's memory */
int bus_unit_get_memory_current(sd_bus *bus, const char *unit, uint64_t *ret);
/* systemctl enable / disable of one unit file (not at runtime: it lasts over a reboot), as its
 * [Install] section says; a template instance enables as that instance */
int bus_enable_unit_file(sd_bus *bus, const char *unit);
int bus_disable_unit_file(sd_bus *bus, const char *unit);
/* StartUnit(unit, "replace") without waiting for the job: 0 once systemd queued it (the unit's own
 * journal tells the rest), or -errno with *ret_error (optional) set to the D-Bus error's message ("Unit
 * x.service not found.": -ENOENT) */
int bus_queue_start_unit(sd_bus *bus, const char *unit, char **ret_error);
/* Manager.RefUnit(): systemd keeps the unit loaded (its InvocationID, Result and state) as long as this
 * bus connection lives, so that a short-lived unit is not unloaded before its end is read. -errno with
 * *ret_error (optional) set to the D-Bus error's message. */
int bus_ref_unit(sd_bus *bus, const char *unit, char **ret_error);
