/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bus.c: the server unit and logind over D-Bus (org.freedesktop.systemd1, org.freedesktop.login1) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>

#include "bus.h"
#include "journal.h" /* now_monotonic() */
#include "macro.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT "org.freedesktop.systemd1.Unit"
#define SYSTEMD_SERVICE "org.freedesktop.systemd1.Service"
#define LOGIND_DEST "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER "org.freedesktop.login1.Manager"

int bus_open_system(sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

/* on a direct connection (systemd's private socket) messages carry no sender: match on none */
static const char *systemd_sender(sd_bus *bus) {
        return sd_bus_is_bus_client(bus) > 0 ? SYSTEMD_DEST : NULL;
}

/* hand message (owned, may be NULL) to *ret_error, and return r */
static int fail(char **ret_error, int r, char *message) {
        if (ret_error)
                *ret_error = message;
        else
                free(message);
        return r;
}

static char *bus_error_text(const sd_bus_error *e, int r) {
        if (sd_bus_error_is_set(e))
                return strdup(e->message ?: e->name);
        return strdup(strerror(-r));
}

typedef struct JobWait {
        const char *job; /* the job's object path, NULL until the call answered */
        char *result;
        int error;
} JobWait;

static int job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        JobWait *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        /* a malformed signal is not ours to judge: ignore it as systemctl does */
        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (!w->job || !streq(path, w->job) || w->result)
                return 0;
        w->result = strdup(result);
        if (!w->result)
                w->error = -ENOMEM;
        return 0;
}

static int unit_job(
        sd_bus *bus,
        const char *method,
        const char *unit,
        usec_t deadline,
        char **ret_result,
        char **ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ char *job = NULL;
        JobWait w = {};
        const char *path;
        usec_t n;
        int r;

        if (!bus || !unit || !*unit || !ret_result)
                return -EINVAL;

        n = now_monotonic();
        if (deadline != USEC_INFINITY && n >= deadline)
                return fail(ret_error, -ETIME, strdup("deadline passed before the job was queued"));

        /* before the call: the job may finish before we know its path, and a signal that arrives
         * before our match is in the broker is lost */
        r = sd_bus_match_signal(
                bus,
                &slot,
                systemd_sender(bus),
                SYSTEMD_PATH,
                SYSTEMD_MANAGER,
                "JobRemoved",
                job_removed,
                &w);
        if (r < 0)
                return fail(ret_error, r, strdup("cannot install the JobRemoved match"));

        r = sd_bus_message_new_method_call(bus, &call, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, method);
        if (r < 0)
                return fail(ret_error, r, NULL);
        r = sd_bus_message_append(call, "ss", unit, "replace");
        if (r < 0)
                return fail(ret_error, r, NULL);
        /* 0: sd-bus's default method timeout */
        r = sd_bus_call(bus, call, deadline == USEC_INFINITY ? 0 : deadline - n, &error, &reply);
        if (r == -ETIMEDOUT && deadline != USEC_INFINITY && now_monotonic() >= deadline)
                return fail(ret_error, -ETIME, strdup("deadline passed before systemd answered"));
        if (r < 0)
                return fail(ret_error, r, bus_error_text(&error, r));

        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return fail(ret_error, r, strdup("malformed reply from systemd"));
        job = strdup(path);
        if (!job)
                return fail(ret_error, -ENOMEM, NULL);
        w.job = job;

        /* sd_bus_call() queued whatever came meanwhile, our JobRemoved included: dispatch it */
        for (;;) {
                if (w.error < 0)
                        return fail(ret_error, w.error, NULL);
                if (w.result)
                        break;

                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return fail(
                                ret_error,
                                r,
                                strdup("connection to the bus lost while waiting for the job"));
                if (r > 0)
                        continue;

                n = now_monotonic();
                if (deadline != USEC_INFINITY && n >= deadline) {
                        char *m = NULL;
                        if (asprintf(&m, "job %s for %s still running at the deadline", job, unit) < 0)
                                m = NULL;
                        return fail(ret_error, -ETIME, m);
                }
                r = sd_bus_wait(bus, deadline == USEC_INFINITY ? UINT64_MAX : deadline - n);
                if (r < 0)
                        return fail(
                                ret_error,
                                r,
                                strdup("connection to the bus lost while waiting for the job"));
        }

        *ret_result = TAKE_PTR(w.result);
        return 0;
}

int bus_start_unit(sd_bus *bus, const char *unit, usec_t deadline, char **ret_result, char **ret_error) {
        return unit_job(bus, "StartUnit", unit, deadline, ret_result, ret_error);
}

int bus_stop_unit(sd_bus *bus, const char *unit, usec_t deadline, char **ret_result, char **ret_error) {
        return unit_job(bus, "StopUnit", unit, deadline, ret_result, ret_error);
}

int bus_restart_unit(sd_bus *bus, const char *unit, usec_t deadline, char **ret_result, char **ret_error) {
        return unit_job(bus, "RestartUnit", unit, deadline, ret_result, ret_error);
}

void bus_stop_failure_done(BusStopFailure *f) {
        if (!f)
                return;
        free(f->error);
        free(f->job_result);
        free(f->active_state);
        free(f->sub_state);
        *f = (BusStopFailure){};
}

/* hand f (owned) to *ret_failure, and return r */
static int stop_fail(BusStopFailure *ret_failure, int r, BusStopFailure f) {
        if (ret_failure)
                *ret_failure = f;
        else
                bus_stop_failure_done(&f);
        return r;
}

int bus_stop_unit_verified(
        sd_bus *bus, const char *unit, usec_t deadline, BusStopFlags flags, BusStopFailure *ret_failure) {
        _cleanup_free_ char *result = NULL, *error = NULL, *active = NULL, *sub = NULL;
        int r;

        r = bus_stop_unit(bus, unit, deadline, &result, &error);
        if (r < 0)
                return stop_fail(
                        ret_failure,
                        r,
                        (BusStopFailure){ .step = BUS_STOP_STEP_JOB, .error = TAKE_PTR(error) });
        if (!streq(result, "done")) {
                r = bus_job_result_to_errno(result);
                return stop_fail(
                        ret_failure,
                        r < 0 ? r : -EIO,
                        (BusStopFailure){ .step = BUS_STOP_STEP_JOB_RESULT,
                                          .job_result = TAKE_PTR(result) });
        }
        r = bus_unit_get_state(bus, unit, &active, &sub);
        if (r < 0)
                return stop_fail(ret_failure, r, (BusStopFailure){ .step = BUS_STOP_STEP_READ_STATE });
        if (!streq(active, "inactive") && !((flags & BUS_STOP_FAILED_IS_STOPPED) && streq(active, "failed")))
                return stop_fail(
                        ret_failure,
                        -EBUSY,
                        (BusStopFailure){ .step = BUS_STOP_STEP_NOT_STOPPED,
                                          .active_state = TAKE_PTR(active),
                                          .sub_state = TAKE_PTR(sub) });
        return 0;
}

int bus_job_result_to_errno(const char *result) {
        static const struct {
                const char *result;
                int error;
        } table[] = {
                { "done", 0 },
                { "skipped", 0 },
                { "canceled", -ECANCELED },
                { "collected", -ECANCELED },
                { "timeout", -ETIMEDOUT },
                { "failed", -EIO },
                { "dependency", -ENOLINK },
                { "invalid", -ENOEXEC },
                { "assert", -EPROTO },
                { "unsupported", -EOPNOTSUPP },
                { "once", -ESTALE },
        };

        if (!result)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(result, table[i].result))
                        return table[i].error;
        return -EBADMSG;
}

static int call_for_path(
        sd_bus *bus, const char *method, const char *unit, sd_bus_error *error, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        char *p;
        int r;

        r = sd_bus_call_method(
                bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, method, error, &reply, "s", unit);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int bus_unit_get_path(sd_bus *bus, const char *unit, char **ret_path) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (!bus || !unit || !*unit || !ret_path)
                return -EINVAL;

        r = call_for_path(bus, "GetUnit", unit, &error, ret_path);
        if (r >= 0 || !sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit"))
                return r;

        /* not loaded (an inactive unit nothing refers to): load it */
        sd_bus_error_free(&error);
        return call_for_path(bus, "LoadUnit", unit, &error, ret_path);
}

int bus_invocation_id_to_hex(const void *bytes, size_t size, char **ret) {
        static const char hex[] = "0123456789abcdef";
        const uint8_t *b = bytes;
        bool null = true;
        char *s;

        if (!ret || (size > 0 && !bytes))
                return -EINVAL;
        if (size != 0 && size != 16)
                return -EBADMSG;

        for (size_t i = 0; i < size; i++)
                if (b[i] != 0)
                        null = false;

        s = malloc(null ? 1 : 2 * size + 1);
        if (!s)
                return -ENOMEM;
        if (null) {
                s[0] = 0;
        } else {
                for (size_t i = 0; i < size; i++) {
                        s[2 * i] = hex[b[i] >> 4];
                        s[2 * i + 1] = hex[b[i] & 0xf];
                }
                s[2 * size] = 0;
        }
        *ret = s;
        return 0;
}

int bus_unit_get_invocation_id(sd_bus *bus, const char *unit, char **ret_hex) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL;
        const void *bytes = NULL;
        size_t size = 0;
        int r;

        if (!ret_hex)
                return -EINVAL;
        r = bus_unit_get_path(bus, unit, &path);
        if (r < 0)
                return r;
        r = sd_bus_get_property(bus, SYSTEMD_DEST, path, SYSTEMD_UNIT, "InvocationID", &error, &reply, "ay");
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(reply, 'y', &bytes, &size);
        if (r < 0)
                return r;
        return bus_invocation_id_to_hex(bytes, size, ret_hex);
}

static int get_string(
        sd_bus *bus, const char *path, const char *interface, const char *property, char **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        return sd_bus_get_property_string(bus, SYSTEMD_DEST, path, interface, property, &error, ret);
}

int bus_unit_get_state(sd_bus *bus, const char *unit, char **ret_active_state, char **ret_sub_state) {
        _cleanup_free_ char *path = NULL, *active = NULL, *sub = NULL;
        int r;

        if (!ret_active_state || !ret_sub_state)
                return -EINVAL;
        r = bus_unit_get_path(bus, unit, &path);
        if (r < 0)
                return r;
        r = get_string(bus, path, SYSTEMD_UNIT, "ActiveState", &active);
        if (r < 0)
                return r;
        r = get_string(bus, path, SYSTEMD_UNIT, "SubState", &sub);
        if (r < 0)
                return r;
        *ret_active_state = TAKE_PTR(active);
        *ret_sub_state = TAKE_PTR(sub);
        return 0;
}

int bus_unit_get_string(
        sd_bus *bus, const char *unit, const char *interface, const char *property, char **ret) {
        _cleanup_free_ char *path = NULL, *full = NULL;
        int r;

        if (!interface || !*interface || !property || !*property || !ret)
                return -EINVAL;
        if (!strchr(interface, '.')) {
                if (asprintf(&full, "org.freedesktop.systemd1.%s", interface) < 0)
                        return -ENOMEM;
                interface = full;
        }
        r = bus_unit_get_path(bus, unit, &path);
        if (r < 0)
                return r;
        return get_string(bus, path, interface, property, ret);
}

/* a Service property of a basic D-Bus type (type: 'u', 't', …) into *ret */
static int service_property(sd_bus *bus, const char *unit, const char *property, char type, void *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        r = bus_unit_get_path(bus, unit, &path);
        if (r < 0)
                return r;
        return sd_bus_get_property_trivial(
                bus, SYSTEMD_DEST, path, SYSTEMD_SERVICE, property, &error, type, ret);
}

int bus_unit_get_main_pid(sd_bus *bus, const char *unit, uint32_t *ret) {
        return service_property(bus, unit, "MainPID", 'u', ret);
}

static int properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        /* the match is a wake-up: the caller reads the state it cares about */
        return 0;
}

int bus_unit_watch_properties(sd_bus *bus, const char *unit, sd_bus_slot **ret_slot) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        if (!ret_slot)
                return -EINVAL;
        r = bus_unit_get_path(bus, unit, &path);
        if (r < 0)
                return r;

        r = sd_bus_match_signal(
                bus,
                &slot,
                systemd_sender(bus),
                path,
                "org.freedesktop.DBus.Properties",
                "PropertiesChanged",
                properties_changed,
                NULL);
        if (r < 0)
                return r;

        /* systemd sends unit signals only while some client is subscribed; ours lasts as long as the
         * connection */
        r = sd_bus_call_method(
                bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "Subscribe", &error, NULL, NULL);
        if (r < 0 && !sd_bus_error_has_name(&error, "org.freedesktop.systemd1.AlreadySubscribed"))
                return r;

        *ret_slot = TAKE_PTR(slot);
        return 0;
}

int bus_logind_inhibit(
        sd_bus *bus, const char *what, const char *who, const char *why, const char *mode, int *ret_fd) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int fd, copy, r;

        if (!bus || !what || !*what || !who || !why || !mode || !ret_fd)
                return -EINVAL;
        if (!streq(mode, "block") && !streq(mode, "delay"))
                return -EINVAL;

        r = sd_bus_call_method(
                bus,
                LOGIND_DEST,
                LOGIND_PATH,
                LOGIND_MANAGER,
                "Inhibit",
                &error,
                &reply,
                "ssss",
                what,
                who,
                why,
                mode);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return r;

        /* the message owns fd */
        copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return -errno;
        *ret_fd = copy;
        return 0;
}

int bus_unit_get_memory_current(sd_bus *bus, const char *unit, uint64_t *ret) {
        uint64_t v;
        int r;

        if (!ret)
                return -EINVAL;
        r = service_property(bus, unit, "MemoryCurrent", 't', &v);
        if (r < 0)
                return r;
        if (v == UINT64_MAX)
                return -ENODATA;
        *ret = v;
        return 0;
}

/* EnableUnitFiles(as, b runtime, b force) or DisableUnitFiles(as, b runtime); the changes are not read */
static int unit_files(sd_bus *bus, const char *method, const char *unit, bool enable) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &call, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, method);
        if (r < 0)
                return r;
        r = sd_bus_message_append(call, "as", 1, unit);
        if (r < 0)
                return r;
        r = enable ? sd_bus_message_append(call, "bb", 0, 1) : sd_bus_message_append(call, "b", 0);
        if (r < 0)
                return r;
        return sd_bus_call(bus, call, 0, &error, &reply);
}

int bus_enable_unit_file(sd_bus *bus, const char *unit) {
        return unit_files(bus, "EnableUnitFiles", unit, true);
}

int bus_disable_unit_file(sd_bus *bus, const char *unit) {
        return unit_files(bus, "DisableUnitFiles", unit, false);
}

int bus_queue_start_unit(sd_bus *bus, const char *unit, char **ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (!bus || !unit || !*unit)
                return -EINVAL;
        r = sd_bus_call_method(
                bus,
                SYSTEMD_DEST,
                SYSTEMD_PATH,
                SYSTEMD_MANAGER,
                "StartUnit",
                &error,
                NULL,
                "ss",
                unit,
                "replace");
        if (r < 0)
                return fail(ret_error, r, bus_error_text(&error, r));
        return 0;
}

int bus_ref_unit(sd_bus *bus, const char *unit, char **ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (!bus || !unit || !*unit)
                return -EINVAL;
        r = sd_bus_call_method(
                bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "RefUnit", &error, NULL, "s", unit);
        if (r < 0)
                return fail(ret_error, r, bus_error_text(&error, r));
        return 0;
}
