/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-bus.c: id formatting, job results, and the job/property/inhibit calls against a stand-in for
 * systemd and logind on a private dbus-daemon (never the system bus, never a real systemd) */
#define _GNU_SOURCE
#include <stdbool.h>
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include "bus.h"
#include "journal.h"
#include "macro.h"

extern char **environ;

/* ---- pure helpers ---- */

START_TEST(test_invocation_id_hex) {
        static const uint8_t id[16] = { 0xc5, 0xa8, 0xe1, 0xf0, 0x9d, 0x2b, 0x4c, 0x7a,
                                        0x8e, 0x3f, 0x6b, 0x1d, 0x0a, 0x9c, 0x4e, 0x72 };
        static const uint8_t zero[16] = {};
        static const uint8_t edges[16] = { 0x00, 0x01, 0x0f, 0x10, 0x7f, 0x80, 0xf0, 0xff,
                                           0xff, 0xf0, 0x80, 0x7f, 0x10, 0x0f, 0x01, 0x00 };
        char *s = NULL;

        ck_assert_int_eq(bus_invocation_id_to_hex(id, sizeof(id), &s), 0);
        ck_assert_str_eq(s, "c5a8e1f09d2b4c7a8e3f6b1d0a9c4e72");
        free(s);

        ck_assert_int_eq(bus_invocation_id_to_hex(edges, sizeof(edges), &s), 0);
        ck_assert_str_eq(s, "00010f107f80f0fffff0807f100f0100");
        free(s);

        /* a unit never started has none: systemd sends an empty array */
        ck_assert_int_eq(bus_invocation_id_to_hex(NULL, 0, &s), 0);
        ck_assert_str_eq(s, "");
        free(s);
        ck_assert_int_eq(bus_invocation_id_to_hex(zero, sizeof(zero), &s), 0);
        ck_assert_str_eq(s, "");
        free(s);

        s = (char *)"untouched";
        ck_assert_int_eq(bus_invocation_id_to_hex(id, 15, &s), -EBADMSG);
        ck_assert_int_eq(bus_invocation_id_to_hex(id, 17, &s), -EBADMSG);
        ck_assert_int_eq(bus_invocation_id_to_hex(id, 1, &s), -EBADMSG);
        ck_assert_str_eq(s, "untouched");
}
END_TEST

START_TEST(test_job_results) {
        static const struct {
                const char *result;
                int error;
        } cases[] = {
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
                { "", -EBADMSG },
                { "Done", -EBADMSG },
                { "done ", -EBADMSG },
                { "frobnicated", -EBADMSG },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                ck_assert_msg(
                        bus_job_result_to_errno(cases[i].result) == cases[i].error,
                        "\"%s\": %d",
                        cases[i].result,
                        bus_job_result_to_errno(cases[i].result));
        ck_assert_int_eq(bus_job_result_to_errno(NULL), -EINVAL);
        /* our own deadline and systemd's job timeout stay apart */
        ck_assert_int_ne(bus_job_result_to_errno("timeout"), -ETIME);
}
END_TEST

/* ---- a stand-in for systemd and logind, on a private bus ---- */

typedef struct FakeUnit {
        const char *name;
        const char *active_state;
        const char *sub_state;
        uint8_t invocation[16];
        size_t invocation_size; /* 0: never started */
        uint32_t main_pid;
        const char *user;
        const char *job_result; /* NULL: the job never ends */
        unsigned job_delay_ms;
        bool loaded;
        bool job_ends_before_reply;
        const char *stopped_active, *stopped_sub; /* the state after a stop job; NULL: inactive, dead */
        bool gone_after_stop; /* unloaded by a stop job: its state cannot be read any more */
} FakeUnit;

static FakeUnit fake_units[] = {
        { "codebolt.service", "inactive", "dead", {}, 0, 0, "codebolt", "done", 0, true },
        { "delayed.service", "inactive", "dead", {}, 0, 0, "root", "done", 300, true },
        { "failing.service", "inactive", "dead", {}, 0, 0, "root", "failed", 0, true },
        { "slow.service", "inactive", "dead", {}, 0, 0, "root", NULL, 0, true },
        { "inactive.service", "inactive", "dead", {}, 0, 0, "nobody", "done", 0, false },
        { "quick.service", "inactive", "dead", {}, 0, 0, "root", "done", 0, true, true },
        /* for bus_stop_unit_verified(): a stop job "done" that leaves the unit running, or failed, or
         * gone */
        { .name = "stubborn.service",
          .active_state = "active",
          .sub_state = "running",
          .user = "root",
          .job_result = "done",
          .loaded = true,
          .stopped_active = "active",
          .stopped_sub = "running" },
        { .name = "crashed.service",
          .active_state = "active",
          .sub_state = "running",
          .user = "root",
          .job_result = "done",
          .loaded = true,
          .stopped_active = "failed",
          .stopped_sub = "failed" },
        { .name = "vanishing.service",
          .active_state = "active",
          .sub_state = "running",
          .user = "root",
          .job_result = "done",
          .loaded = true,
          .gone_after_stop = true },
        { .name = "skipping.service",
          .active_state = "inactive",
          .sub_state = "dead",
          .user = "root",
          .job_result = "skipped",
          .loaded = true },
};

typedef struct FakeJob {
        usec_t due;
        uint32_t id;
        char *path;
        const char *unit;
        const char *result;
} FakeJob;

static struct {
        uint32_t next_job;
        unsigned starts;
        sd_bus_track *subscribed;
        FakeJob pending[16];
        size_t n_pending;
} fake = { .next_job = 100 };

static FakeUnit *fake_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(fake_units); i++)
                if (streq(fake_units[i].name, name))
                        return &fake_units[i];
        return NULL;
}

static int fake_unit_path(const char *name, char **ret) {
        return sd_bus_path_encode("/org/freedesktop/systemd1/unit", name, ret);
}

static int fake_emit_job_removed(
        sd_bus *bus, uint32_t id, const char *path, const char *unit, const char *result) {
        return sd_bus_emit_signal(
                bus,
                "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager",
                "JobRemoved",
                "uoss",
                id,
                path,
                unit,
                result);
}

static int fake_get_or_load(sd_bus_message *m, bool load, sd_bus_error *error) {
        _cleanup_free_ char *path = NULL;
        const char *name;
        FakeUnit *u;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        u = fake_find(name);
        if (!u || (!load && !u->loaded))
                return sd_bus_error_setf(
                        error,
                        "org.freedesktop.systemd1.NoSuchUnit",
                        "Unit %s %s.",
                        name,
                        u ? "not loaded" : "not found");
        u->loaded = true;
        r = fake_unit_path(name, &path);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "o", path);
}

static int fake_get_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return fake_get_or_load(m, false, error);
}

static int fake_load_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return fake_get_or_load(m, true, error);
}

static int fake_job(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *method = sd_bus_message_get_member(m);
        sd_bus *bus = sd_bus_message_get_bus(m);
        _cleanup_free_ char *job = NULL, *decoy = NULL, *upath = NULL;
        const char *name, *mode;
        uint32_t id;
        FakeUnit *u;
        int r;

        r = sd_bus_message_read(m, "ss", &name, &mode);
        if (r < 0)
                return r;
        if (!streq(mode, "replace"))
                return sd_bus_error_setf(
                        error, SD_BUS_ERROR_INVALID_ARGS, "this test wants mode replace, got %s", mode);
        u = fake_find(name);
        if (!u)
                return sd_bus_error_setf(
                        error, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not found.", name);
        u->loaded = true;

        id = fake.next_job++;
        if (asprintf(&job, "/org/freedesktop/systemd1/job/%u", id) < 0 ||
            asprintf(&decoy, "/org/freedesktop/systemd1/job/%u", id + 1000) < 0)
                return -ENOMEM;
        /* systemd answers first, but a waiter must not depend on it: the broker routes a signal to
         * the matches it has at that moment */
        if (u->job_ends_before_reply) {
                r = fake_emit_job_removed(bus, id, job, name, u->job_result);
                if (r < 0)
                        return r;
        }
        r = sd_bus_reply_method_return(m, "o", job);
        if (r < 0)
                return r;
        if (u->job_ends_before_reply)
                return 0;

        /* another job of the same unit ends first (a waiter matching on the unit name would take it) */
        r = fake_emit_job_removed(bus, id + 1000, decoy, name, "canceled");
        if (r < 0)
                return r;

        if (streq(method, "StopUnit")) {
                u->active_state = u->stopped_active ?: "inactive";
                u->sub_state = u->stopped_sub ?: "dead";
                u->main_pid = 0;
                if (u->gone_after_stop)
                        u->name = "gone.service";
        } else {
                u->active_state = "active";
                u->sub_state = "running";
                u->main_pid = 812;
                fake.starts++;
                for (size_t i = 0; i < 16; i++)
                        u->invocation[i] = (uint8_t)(0x11 * (i + 1) + fake.starts);
                u->invocation_size = 16;
        }
        r = fake_unit_path(name, &upath);
        if (r < 0)
                return r;
        /* like systemd: unit signals go out only while a client is subscribed */
        if (sd_bus_track_count(fake.subscribed) > 0) {
                r = sd_bus_emit_properties_changed(
                        bus, upath, "org.freedesktop.systemd1.Unit", "ActiveState", "SubState", NULL);
                if (r < 0)
                        return r;
        }

        if (!u->job_result)
                return 0; /* never ends */
        if (u->job_delay_ms == 0)
                return fake_emit_job_removed(bus, id, job, name, u->job_result);
        if (fake.n_pending >= ELEMENTSOF(fake.pending))
                return -ENOBUFS;
        fake.pending[fake.n_pending++] = (FakeJob){
                .due = now_monotonic() + u->job_delay_ms * 1000ULL,
                .id = id,
                .path = TAKE_PTR(job),
                .unit = u->name,
                .result = u->job_result,
        };
        return 0;
}

static int fake_subscribe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        int r = sd_bus_track_add_sender(fake.subscribed, m);

        if (r < 0)
                return r;
        if (r == 0)
                return sd_bus_error_set(
                        error,
                        "org.freedesktop.systemd1.AlreadySubscribed",
                        "Client is already subscribed.");
        return sd_bus_reply_method_return(m, NULL);
}

static int fake_find_unit(
        sd_bus *bus,
        const char *path,
        const char *interface,
        void *userdata,
        void **found,
        sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        FakeUnit *u;

        if (sd_bus_path_decode(path, "/org/freedesktop/systemd1/unit", &name) <= 0)
                return 0;
        u = fake_find(name);
        if (!u)
                return 0;
        *found = u;
        return 1;
}

static int fake_get_invocation(
        sd_bus *bus,
        const char *path,
        const char *interface,
        const char *property,
        sd_bus_message *reply,
        void *userdata,
        sd_bus_error *error) {
        FakeUnit *u = userdata;

        return sd_bus_message_append_array(reply, 'y', u->invocation, u->invocation_size);
}

static int fake_inhibit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *what, *who, *why, *mode;
        int fds[2], r;

        r = sd_bus_message_read(m, "ssss", &what, &who, &why, &mode);
        if (r < 0)
                return r;
        if (!*what || !*who || (!streq(mode, "block") && !streq(mode, "delay")))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad inhibitor");
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        r = sd_bus_reply_method_return(m, "h", fds[0]); /* sd-bus sends a copy */
        close(fds[0]);
        close(fds[1]);
        return r;
}

static const sd_bus_vtable fake_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("GetUnit", "s", "o", fake_get_unit, 0),
        SD_BUS_METHOD("LoadUnit", "s", "o", fake_load_unit, 0),
        SD_BUS_METHOD("StartUnit", "ss", "o", fake_job, 0),
        SD_BUS_METHOD("StopUnit", "ss", "o", fake_job, 0),
        SD_BUS_METHOD("RestartUnit", "ss", "o", fake_job, 0),
        SD_BUS_METHOD("Subscribe", "", "", fake_subscribe, 0),
        SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable fake_unit_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", NULL, offsetof(FakeUnit, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY(
                "ActiveState",
                "s",
                NULL,
                offsetof(FakeUnit, active_state),
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY(
                "SubState", "s", NULL, offsetof(FakeUnit, sub_state), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("InvocationID", "ay", fake_get_invocation, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable fake_service_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY(
                "MainPID", "u", NULL, offsetof(FakeUnit, main_pid), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("User", "s", NULL, offsetof(FakeUnit, user), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable fake_logind_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Inhibit", "ssss", "h", fake_inhibit, 0),
        SD_BUS_VTABLE_END,
};

static int bus_connect(const char *address, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        r = sd_bus_set_bus_client(bus, 1);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

static int fake_run(const char *address, int ready_fd) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = bus_connect(address, &bus);
        if (r < 0)
                return r;
        r = sd_bus_track_new(bus, &fake.subscribed, NULL, NULL);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(
                bus,
                NULL,
                "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager",
                fake_manager_vtable,
                NULL);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(
                bus,
                NULL,
                "/org/freedesktop/systemd1/unit",
                "org.freedesktop.systemd1.Unit",
                fake_unit_vtable,
                fake_find_unit,
                NULL);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(
                bus,
                NULL,
                "/org/freedesktop/systemd1/unit",
                "org.freedesktop.systemd1.Service",
                fake_service_vtable,
                fake_find_unit,
                NULL);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(
                bus,
                NULL,
                "/org/freedesktop/login1",
                "org.freedesktop.login1.Manager",
                fake_logind_vtable,
                NULL);
        if (r < 0)
                return r;
        r = sd_bus_request_name(bus, "org.freedesktop.systemd1", 0);
        if (r < 0)
                return r;
        r = sd_bus_request_name(bus, "org.freedesktop.login1", 0);
        if (r < 0)
                return r;
        if (write(ready_fd, "R", 1) != 1)
                return -errno;
        close(ready_fd);

        for (;;) {
                usec_t n, next = USEC_INFINITY;

                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;

                n = now_monotonic();
                for (size_t i = 0; i < fake.n_pending;) {
                        FakeJob *j = &fake.pending[i];
                        if (j->due <= n) {
                                r = fake_emit_job_removed(bus, j->id, j->path, j->unit, j->result);
                                if (r < 0)
                                        return r;
                                free(j->path);
                                *j = fake.pending[--fake.n_pending];
                                continue;
                        }
                        if (j->due < next)
                                next = j->due;
                        i++;
                }
                r = sd_bus_wait(bus, next == USEC_INFINITY ? UINT64_MAX : next - n);
                if (r < 0)
                        return r;
        }
}

/* the private bus and the stand-in live in the test runner (an unchecked fixture) for the whole
 * test case; each test connects its own client */
static char *arg_dir = NULL, *arg_address = NULL;
static pid_t arg_daemon = 0, arg_fake = 0;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void)remove(path);
        return 0;
}

static const char *dbus_daemon(void) {
        static const char *const candidates[] = { "/usr/bin/dbus-daemon", "/bin/dbus-daemon" };

        for (size_t i = 0; i < ELEMENTSOF(candidates); i++)
                if (access(candidates[i], X_OK) == 0)
                        return candidates[i];
        ck_abort_msg("dbus-daemon not found: the bus tests need the Debian package dbus-daemon");
        return NULL;
}

static void private_bus_setup(void) {
        const char *tmp = getenv("TMPDIR") ?: "/tmp";
        _cleanup_free_ char *config = NULL, *text = NULL, *print = NULL, *config_arg = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        posix_spawn_file_actions_t actions;
        int address_pipe[2], ready_pipe[2];
        char c;

        ck_assert_int_ge(asprintf(&arg_dir, "%s/test-bus-XXXXXX", tmp), 0);
        ck_assert_ptr_nonnull(mkdtemp(arg_dir));
        ck_assert_int_ge(asprintf(&config, "%s/bus.conf", arg_dir), 0);
        f = fopen(config, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f,
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig>\n"
                "  <type>session</type>\n"
                "  <listen>unix:path=%s/bus</listen>\n"
                "  <auth>EXTERNAL</auth>\n"
                "  <policy context=\"default\">\n"
                "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                "    <allow eavesdrop=\"true\"/>\n"
                "    <allow own=\"*\"/>\n"
                "  </policy>\n"
                "</busconfig>\n",
                arg_dir);
        ck_assert_int_eq(fclose(TAKE_PTR(f)), 0);

        /* dbus-daemon prints its address when it listens: that is the readiness signal */
        ck_assert_int_eq(pipe2(address_pipe, O_CLOEXEC), 0);
        ck_assert_int_ge(asprintf(&config_arg, "--config-file=%s", config), 0);
        char *argv[] = { (char *)dbus_daemon(),       config_arg, (char *)"--nofork", (char *)"--nopidfile",
                         (char *)"--print-address=3", NULL };
        ck_assert_int_eq(posix_spawn_file_actions_init(&actions), 0);
        ck_assert_int_eq(posix_spawn_file_actions_adddup2(&actions, address_pipe[1], 3), 0);
        ck_assert_int_eq(posix_spawn(&arg_daemon, argv[0], &actions, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&actions);
        close(address_pipe[1]);

        f = fdopen(address_pipe[0], "re");
        ck_assert_ptr_nonnull(f);
        size_t n = 0;
        ck_assert_int_gt(getline(&text, &n, f), 0);
        text[strcspn(text, "\n")] = 0;
        arg_address = strdup(text);
        ck_assert_ptr_nonnull(arg_address);

        ck_assert_int_eq(pipe2(ready_pipe, O_CLOEXEC), 0);
        arg_fake = fork();
        ck_assert_int_ge(arg_fake, 0);
        if (arg_fake == 0) {
                /* Check's runner handler would pass our SIGTERM on to its whole process group */
                (void)signal(SIGTERM, SIG_DFL);
                (void)signal(SIGINT, SIG_DFL);
                (void)signal(SIGALRM, SIG_DFL);
                close(ready_pipe[0]);
                _exit(fake_run(arg_address, ready_pipe[1]) < 0 ? 1 : 0);
        }
        close(ready_pipe[1]);
        ck_assert_int_eq(read(ready_pipe[0], &c, 1), 1);
        close(ready_pipe[0]);
}

static void private_bus_teardown(void) {
        if (arg_fake > 0) {
                (void)kill(arg_fake, SIGTERM);
                (void)waitpid(arg_fake, NULL, 0);
        }
        if (arg_daemon > 0) {
                (void)kill(arg_daemon, SIGTERM);
                (void)waitpid(arg_daemon, NULL, 0);
        }
        if (arg_dir)
                (void)nftw(arg_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(arg_dir);
        free(arg_address);
        arg_dir = arg_address = NULL;
        arg_fake = arg_daemon = 0;
}

static sd_bus *client(void) {
        sd_bus *bus = NULL;

        ck_assert_ptr_nonnull(arg_address);
        ck_assert_int_eq(bus_connect(arg_address, &bus), 0);
        return bus;
}

#define SOON (now_monotonic() + 5 * USEC_PER_SEC)

static void assert_state(sd_bus *bus, const char *unit, const char *active, const char *sub) {
        _cleanup_free_ char *a = NULL, *s = NULL;

        ck_assert_int_eq(bus_unit_get_state(bus, unit, &a, &s), 0);
        ck_assert_str_eq(a, active);
        ck_assert_str_eq(s, sub);
}

START_TEST(test_start_stop) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        _cleanup_free_ char *result = NULL, *result2 = NULL, *id = NULL, *user = NULL, *user2 = NULL;
        char *error = NULL;
        uint32_t pid = 1;

        ck_assert_int_eq(bus_start_unit(bus, "codebolt.service", SOON, &result, &error), 0);
        ck_assert_str_eq(result, "done");
        ck_assert_ptr_null(error);
        assert_state(bus, "codebolt.service", "active", "running");

        ck_assert_int_eq(bus_unit_get_invocation_id(bus, "codebolt.service", &id), 0);
        ck_assert_uint_eq(strlen(id), 32);
        ck_assert_uint_eq(strspn(id, "0123456789abcdef"), 32);
        ck_assert_int_eq(bus_unit_get_main_pid(bus, "codebolt.service", &pid), 0);
        ck_assert_uint_eq(pid, 812);
        ck_assert_int_eq(bus_unit_get_string(bus, "codebolt.service", "Service", "User", &user), 0);
        ck_assert_str_eq(user, "codebolt");
        ck_assert_int_eq(
                bus_unit_get_string(
                        bus, "codebolt.service", "org.freedesktop.systemd1.Service", "User", &user2),
                0);
        ck_assert_str_eq(user2, "codebolt");

        ck_assert_int_eq(bus_stop_unit(bus, "codebolt.service", SOON, &result2, &error), 0);
        ck_assert_str_eq(result2, "done");
        assert_state(bus, "codebolt.service", "inactive", "dead");
        ck_assert_int_eq(bus_unit_get_main_pid(bus, "codebolt.service", &pid), 0);
        ck_assert_uint_eq(pid, 0);
}
END_TEST

START_TEST(test_restart_new_invocation) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        _cleanup_free_ char *r1 = NULL, *r2 = NULL, *id1 = NULL, *id2 = NULL;

        ck_assert_int_eq(bus_start_unit(bus, "codebolt.service", SOON, &r1, NULL), 0);
        ck_assert_int_eq(bus_unit_get_invocation_id(bus, "codebolt.service", &id1), 0);
        ck_assert_int_eq(bus_restart_unit(bus, "codebolt.service", SOON, &r2, NULL), 0);
        ck_assert_str_eq(r2, "done");
        ck_assert_int_eq(bus_unit_get_invocation_id(bus, "codebolt.service", &id2), 0);
        ck_assert_uint_eq(strlen(id2), 32);
        ck_assert_str_ne(id1, id2);
}
END_TEST

START_TEST(test_job_ends_before_reply) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        _cleanup_free_ char *result = NULL;

        /* only a match installed before the call sees this JobRemoved */
        ck_assert_int_eq(bus_start_unit(bus, "quick.service", SOON, &result, NULL), 0);
        ck_assert_str_eq(result, "done");
}
END_TEST

START_TEST(test_job_failed) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        _cleanup_free_ char *result = NULL;

        ck_assert_int_eq(bus_start_unit(bus, "failing.service", SOON, &result, NULL), 0);
        ck_assert_str_eq(result, "failed");
        ck_assert_int_eq(bus_job_result_to_errno(result), -EIO);
}
END_TEST

START_TEST(test_job_waits_for_its_own_job) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        _cleanup_free_ char *result = NULL;
        usec_t start = now_monotonic();

        /* the stand-in first ends another job of the same unit ("canceled"), ours 300 ms later */
        ck_assert_int_eq(bus_start_unit(bus, "delayed.service", SOON, &result, NULL), 0);
        ck_assert_str_eq(result, "done");
        ck_assert_uint_ge(now_monotonic() - start, 250 * 1000);
}
END_TEST

START_TEST(test_job_deadline) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        _cleanup_free_ char *error = NULL;
        char *result = (char *)"untouched";
        usec_t start = now_monotonic();

        ck_assert_int_eq(bus_start_unit(bus, "slow.service", start + 300 * 1000, &result, &error), -ETIME);
        ck_assert_str_eq(result, "untouched");
        ck_assert_ptr_nonnull(error);
        ck_assert_ptr_nonnull(strstr(error, "slow.service"));
        ck_assert_uint_ge(now_monotonic() - start, 300 * 1000);
        ck_assert_uint_lt(now_monotonic() - start, 3 * USEC_PER_SEC);

        /* a deadline already gone: nothing is queued */
        free(error);
        error = NULL;
        ck_assert_int_eq(bus_stop_unit(bus, "codebolt.service", now_monotonic(), &result, &error), -ETIME);
        ck_assert_str_eq(result, "untouched");
}
END_TEST

START_TEST(test_missing_unit) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        _cleanup_free_ char *error = NULL, *id = NULL, *a = NULL, *s = NULL;
        char *result = (char *)"untouched";
        int r;

        r = bus_start_unit(bus, "missing.service", SOON, &result, &error);
        /* libsystemd maps org.freedesktop.systemd1.NoSuchUnit to ENOENT */
        ck_assert_int_eq(r, -ENOENT);
        ck_assert_str_eq(error, "Unit missing.service not found.");
        ck_assert_str_eq(result, "untouched");

        ck_assert_int_eq(bus_unit_get_invocation_id(bus, "missing.service", &id), -ENOENT);
        ck_assert_int_eq(bus_unit_get_state(bus, "missing.service", &a, &s), -ENOENT);
        ck_assert_ptr_null(id);
        ck_assert_ptr_null(a);
}
END_TEST

START_TEST(test_inactive_unit) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        _cleanup_free_ char *id = NULL, *path = NULL;

        /* not loaded: GetUnit says NoSuchUnit, LoadUnit finds it */
        ck_assert_int_eq(bus_unit_get_path(bus, "inactive.service", &path), 0);
        ck_assert_str_eq(path, "/org/freedesktop/systemd1/unit/inactive_2eservice");
        ck_assert_int_eq(bus_unit_get_invocation_id(bus, "inactive.service", &id), 0);
        ck_assert_str_eq(id, "");
        assert_state(bus, "inactive.service", "inactive", "dead");
}
END_TEST

static int count_changes(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.Properties", "PropertiesChanged") &&
            streq_ptr(sd_bus_message_get_path(m), "/org/freedesktop/systemd1/unit/codebolt_2eservice"))
                (*(unsigned *)userdata)++;
        return 0;
}

/* dispatch everything that arrives for a while */
static void pump(sd_bus *bus, usec_t for_usec) {
        usec_t end = now_monotonic() + for_usec;

        for (;;) {
                usec_t n = now_monotonic();
                int r = sd_bus_process(bus, NULL);
                ck_assert_int_ge(r, 0);
                if (r > 0)
                        continue;
                if (n >= end)
                        return;
                ck_assert_int_ge(sd_bus_wait(bus, end - n), 0);
        }
}

START_TEST(test_watch_properties) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *filter = NULL, *watch = NULL;
        _cleanup_free_ char *r1 = NULL, *r2 = NULL;
        unsigned changes = 0;

        /* a filter sees every message the broker hands us, but hands us nothing by itself */
        ck_assert_int_ge(sd_bus_add_filter(bus, &filter, count_changes, &changes), 0);
        ck_assert_int_eq(bus_start_unit(bus, "codebolt.service", SOON, &r1, NULL), 0);
        pump(bus, 200 * 1000);
        ck_assert_uint_eq(changes, 0);

        ck_assert_int_eq(bus_unit_watch_properties(bus, "codebolt.service", &watch), 0);
        ck_assert_ptr_nonnull(watch);
        ck_assert_int_eq(bus_stop_unit(bus, "codebolt.service", SOON, &r2, NULL), 0);
        pump(bus, 200 * 1000);
        ck_assert_uint_ge(changes, 1);

        /* a second watch on the same connection: Subscribe says AlreadySubscribed, which is fine */
        sd_bus_slot *again = NULL;
        ck_assert_int_eq(bus_unit_watch_properties(bus, "codebolt.service", &again), 0);
        sd_bus_slot_unref(again);
}
END_TEST

START_TEST(test_inhibit) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        int fd = -1, flags;

        ck_assert_int_eq(
                bus_logind_inhibit(bus, "shutdown", "codebolt-upgrade", "upgrading to 1.5.0", "block", &fd),
                0);
        ck_assert_int_ge(fd, 3);
        flags = fcntl(fd, F_GETFD);
        ck_assert_int_ge(flags, 0);
        ck_assert(flags & FD_CLOEXEC);
        close(fd);

        fd = -1;
        ck_assert_int_eq(
                bus_logind_inhibit(bus, "shutdown", "codebolt-upgrade", "x", "bogus", &fd), -EINVAL);
        /* logind refuses it: the D-Bus error's errno comes back */
        ck_assert_int_eq(bus_logind_inhibit(bus, "shutdown", "", "x", "block", &fd), -EINVAL);
        ck_assert_int_eq(fd, -1);
}
END_TEST

static void assert_failure_empty(const BusStopFailure *f) {
        ck_assert_ptr_null(f->error);
        ck_assert_ptr_null(f->job_result);
        ck_assert_ptr_null(f->active_state);
        ck_assert_ptr_null(f->sub_state);
}

START_TEST(test_stop_verified) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        _cleanup_free_ char *result = NULL;
        BusStopFailure f = { .step = BUS_STOP_STEP_NOT_STOPPED };

        ck_assert_int_eq(bus_start_unit(bus, "codebolt.service", SOON, &result, NULL), 0);
        assert_state(bus, "codebolt.service", "active", "running");
        ck_assert_int_eq(bus_stop_unit_verified(bus, "codebolt.service", SOON, 0, &f), 0);
        assert_state(bus, "codebolt.service", "inactive", "dead");
        /* untouched on success */
        ck_assert_int_eq(f.step, BUS_STOP_STEP_NOT_STOPPED);
        assert_failure_empty(&f);

        /* already stopped: the stop job is "done" all the same */
        ck_assert_int_eq(bus_stop_unit_verified(bus, "codebolt.service", SOON, 0, NULL), 0);
}
END_TEST

START_TEST(test_stop_verified_job) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        _cleanup_(bus_stop_failure_done) BusStopFailure f = {};
        usec_t start = now_monotonic();

        /* not over by the deadline */
        ck_assert_int_eq(bus_stop_unit_verified(bus, "slow.service", start + 300 * 1000, 0, &f), -ETIME);
        ck_assert_int_eq(f.step, BUS_STOP_STEP_JOB);
        ck_assert_ptr_nonnull(f.error);
        ck_assert_ptr_nonnull(strstr(f.error, "slow.service"));
        ck_assert_ptr_null(f.job_result);
        ck_assert_ptr_null(f.active_state);
        bus_stop_failure_done(&f);

        /* never queued */
        ck_assert_int_eq(bus_stop_unit_verified(bus, "missing.service", SOON, 0, &f), -ENOENT);
        ck_assert_int_eq(f.step, BUS_STOP_STEP_JOB);
        ck_assert_str_eq(f.error, "Unit missing.service not found.");
        bus_stop_failure_done(&f);
        assert_failure_empty(&f);

        /* without ret_failure nothing leaks */
        ck_assert_int_eq(bus_stop_unit_verified(bus, "missing.service", SOON, 0, NULL), -ENOENT);
}
END_TEST

START_TEST(test_stop_verified_job_result) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        _cleanup_(bus_stop_failure_done) BusStopFailure f = {};

        ck_assert_int_eq(bus_stop_unit_verified(bus, "failing.service", SOON, 0, &f), -EIO);
        ck_assert_int_eq(f.step, BUS_STOP_STEP_JOB_RESULT);
        ck_assert_str_eq(f.job_result, "failed");
        ck_assert_ptr_null(f.error);
        bus_stop_failure_done(&f);

        /* "skipped" is no error for bus_job_result_to_errno(), but it is no stop either */
        ck_assert_int_eq(bus_stop_unit_verified(bus, "skipping.service", SOON, 0, &f), -EIO);
        ck_assert_int_eq(f.step, BUS_STOP_STEP_JOB_RESULT);
        ck_assert_str_eq(f.job_result, "skipped");
}
END_TEST

START_TEST(test_stop_verified_state) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        _cleanup_(bus_stop_failure_done) BusStopFailure f = {};

        /* the job is done, the unit runs on */
        ck_assert_int_eq(bus_stop_unit_verified(bus, "stubborn.service", SOON, 0, &f), -EBUSY);
        ck_assert_int_eq(f.step, BUS_STOP_STEP_NOT_STOPPED);
        ck_assert_str_eq(f.active_state, "active");
        ck_assert_str_eq(f.sub_state, "running");
        bus_stop_failure_done(&f);
        ck_assert_int_eq(
                bus_stop_unit_verified(bus, "stubborn.service", SOON, BUS_STOP_FAILED_IS_STOPPED, &f),
                -EBUSY);
        ck_assert_str_eq(f.active_state, "active");
        bus_stop_failure_done(&f);

        /* failed is stopped only when the caller says so */
        ck_assert_int_eq(bus_stop_unit_verified(bus, "crashed.service", SOON, 0, &f), -EBUSY);
        ck_assert_int_eq(f.step, BUS_STOP_STEP_NOT_STOPPED);
        ck_assert_str_eq(f.active_state, "failed");
        ck_assert_str_eq(f.sub_state, "failed");
        bus_stop_failure_done(&f);
        ck_assert_int_eq(
                bus_stop_unit_verified(bus, "crashed.service", SOON, BUS_STOP_FAILED_IS_STOPPED, &f), 0);
        assert_failure_empty(&f);

        /* a state that cannot be read after the job */
        ck_assert_int_eq(bus_stop_unit_verified(bus, "vanishing.service", SOON, 0, &f), -ENOENT);
        ck_assert_int_eq(f.step, BUS_STOP_STEP_READ_STATE);
        assert_failure_empty(&f);
}
END_TEST

START_TEST(test_queue_start) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client();
        _cleanup_free_ char *error = NULL, *result = NULL;

        ck_assert_int_eq(bus_stop_unit(bus, "codebolt.service", SOON, &result, NULL), 0);
        assert_state(bus, "codebolt.service", "inactive", "dead");
        ck_assert_int_eq(bus_queue_start_unit(bus, "codebolt.service", &error), 0);
        ck_assert_ptr_null(error);
        assert_state(bus, "codebolt.service", "active", "running");

        ck_assert_int_eq(bus_queue_start_unit(bus, "missing.service", &error), -ENOENT);
        ck_assert_str_eq(error, "Unit missing.service not found.");
        ck_assert_int_eq(bus_queue_start_unit(bus, "missing.service", NULL), -ENOENT);
        ck_assert_int_eq(bus_queue_start_unit(bus, "", NULL), -EINVAL);
}
END_TEST

static Suite *bus_suite(void) {
        Suite *s = suite_create("bus");
        TCase *tc;

        tc = tcase_create("pure");
        tcase_add_test(tc, test_invocation_id_hex);
        tcase_add_test(tc, test_job_results);
        suite_add_tcase(s, tc);

        tc = tcase_create("private-bus");
        tcase_set_timeout(tc, 30);
        tcase_add_unchecked_fixture(tc, private_bus_setup, private_bus_teardown);
        tcase_add_test(tc, test_start_stop);
        tcase_add_test(tc, test_restart_new_invocation);
        tcase_add_test(tc, test_job_ends_before_reply);
        tcase_add_test(tc, test_job_failed);
        tcase_add_test(tc, test_job_waits_for_its_own_job);
        tcase_add_test(tc, test_job_deadline);
        tcase_add_test(tc, test_missing_unit);
        tcase_add_test(tc, test_inactive_unit);
        tcase_add_test(tc, test_watch_properties);
        tcase_add_test(tc, test_inhibit);
        tcase_add_test(tc, test_stop_verified);
        tcase_add_test(tc, test_stop_verified_job);
        tcase_add_test(tc, test_stop_verified_job_result);
        tcase_add_test(tc, test_stop_verified_state);
        tcase_add_test(tc, test_queue_start);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(bus_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
