/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* drain.c: inhibit shutdown, take no new runs, wait for those in flight, stop the server */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>

#include "balancer.h"
#include "backup-manifest.h"
#include "bus.h"
#include "checks.h"
#include "credentials.h"
#include "helper.h"
#include "server.h"
#include "current.h"
#include "hash.h"
#include "http.h"
#include "inhibitor.h"
#include "journal.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "pg.h"
#include "pg-slot.h"
#include "state.h"
#include "time-util.h"

/* how often the runs in flight are counted */
#define DRAIN_POLL_INTERVAL USEC_PER_SEC
/* one request never waits longer than this, and near the deadline never less than that */
#define REQUEST_TIMEOUT_MAX (30 * USEC_PER_SEC)
#define REQUEST_TIMEOUT_MIN (5 * USEC_PER_SEC)

/* what is left until deadline, within bounds: the count at the deadline itself still gets its answer */
static usec_t request_timeout(usec_t deadline) {
        usec_t now = now_monotonic(), left = deadline > now ? deadline - now : 0;

        if (left < REQUEST_TIMEOUT_MIN)
                return REQUEST_TIMEOUT_MIN;
        return left > REQUEST_TIMEOUT_MAX ? REQUEST_TIMEOUT_MAX : left;
}

/* ---- (a) the shutdown inhibitor ---- */

/* The holder: keeps the inhibitor fd open and nothing else, until finish or the rollback ends it, or the
 * upgrade unit's end kills its control group. Never returns. */
_noreturn_ static void inhibitor_holder(int fd) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        sigset_t all;
        int null;

        (void)prctl(PR_SET_NAME, INHIBITOR_NAME);

        /* drain's SIGTERM handler only sets a flag: the holder must die of the signal */
        sigemptyset(&sa.sa_mask);
        (void)sigaction(SIGTERM, &sa, NULL);
        (void)sigaction(SIGINT, &sa, NULL);
        sigemptyset(&all);
        (void)sigprocmask(SIG_SETMASK, &all, NULL);

        /* no journal stream, bus connection or lock kept alive by the holder */
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                (void)dup2(null, STDIN_FILENO);
                (void)dup2(null, STDOUT_FILENO);
                (void)dup2(null, STDERR_FILENO);
        }
        if (fd > 3)
                (void)close_range(3, (unsigned)fd - 1, 0);
        (void)close_range((unsigned)fd + 1, ~0U, 0);

        for (;;)
                pause();
}

static int update_inhibitor_pid(Current *current, void *userdata) {
        current->inhibitor_pid = *(const pid_t *)userdata;
        current->present |= CURRENT_KEY_BIT(CURRENT_INHIBITOR_PID);
        return 0;
}

static int take_inhibitor(Helper *h, sd_bus *bus) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *why = NULL;
        sigset_t term, saved;
        pid_t pid;
        int r;

        if (asprintf(&why, "upgrading Codebolt to %s", h->version) < 0)
                return log_oom();
        r = bus_logind_inhibit(bus, "shutdown", "codebolt-upgrade", why, "block", &fd);
        if (r < 0) {
                log_warning_errno(
                        r,
                        "Failed to take a shutdown inhibitor lock from logind (%m): going on without one.");
                return 0;
        }

        /* a stop signal that comes before the holder reset its handlers waits for the reset */
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        sigaddset(&term, SIGINT);
        sigprocmask(SIG_BLOCK, &term, &saved);
        pid = fork();
        if (pid == 0)
                inhibitor_holder(fd);
        sigprocmask(SIG_SETMASK, &saved, NULL);
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork the shutdown inhibitor's holder: %m");

        r = helper_update_current(h, update_inhibitor_pid, &pid);
        if (r < 0) {
                /* nobody would end it: end it now, the lock goes with it */
                (void)kill(pid, SIGTERM);
                return r;
        }
        log_info("Shutdown inhibited while upgrading (holder pid %d).", (int)pid);
        return 0;
}

/* ---- (b) and (c): no new runs, wait for those in flight ---- */

static int request_drain(Helper *h, const char *token) {
        _cleanup_free_ char *url = helper_server_url(h, "/api/admin/drain"), *error = NULL;
        long status = 0;
        int r;

        if (!url)
                return log_oom();
        r = http_json("POST", url, token, NULL, REQUEST_TIMEOUT_MAX, &status, NULL, &error);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to ask the server to drain (POST %s): %s", url, error ?: strerror(-r));
        if (status != 202)
                return log_error_errno(
                        EPROTO,
                        "Asking the server to drain (POST %s) answered HTTP %ld, expected 202.",
                        url,
                        status);
        return 0;
}

static int runs_in_flight(Helper *h, const char *url, const char *token, usec_t deadline, unsigned *ret) {
        _cleanup_json_ cJSON *answer = NULL;
        _cleanup_free_ char *error = NULL;
        uint32_t count;
        long status = 0;
        int r;

        r = http_json("GET", url, token, NULL, request_timeout(deadline), &status, &answer, &error);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Failed to count the agent runs in flight (GET %s): %s",
                        url,
                        error ?: strerror(-r));
        if (status != 200)
                return log_error_errno(
                        EPROTO,
                        "Counting the agent runs in flight (GET %s) answered HTTP %ld, expected 200.",
                        url,
                        status);
        /* a count it cannot read is an error, never 0: that would stop the server under running work */
        r = checks_runs_in_flight(answer, &count);
        if (r == -ERANGE)
                return log_error_errno(
                        r,
                        "Counting the agent runs in flight (GET %s) answered a malformed count: out of "
                        "range "
                        "(0 to %" PRIu32 ").",
                        url,
                        UINT32_MAX);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Counting the agent runs in flight (GET %s) answered without a count: \"count\" is "
                        "missing or not a whole number.",
                        url);
        *ret = count;
        return 0;
}

static int wait_for_runs(Helper *h, const char *token) {
        _cleanup_free_ char *url = helper_server_url(h, "/api/admin/runs?state=running");
        usec_t deadline = helper_deadline(h->config.timeout_drain), now;
        unsigned n = 0, shown = UINT_MAX;
        int r;

        if (!url)
                return log_oom();

        for (;;) {
                if (helper_cancelled)
                        return log_error_errno(
                                ECANCELED,
                                "Stopped by signal %d while waiting for the agent runs in flight.",
                                (int)helper_cancelled);

                r = runs_in_flight(h, url, token, deadline, &n);
                if (r < 0)
                        return r;
                if (n == 0)
                        break;
                if (n != shown) {
                        log_status("drain: waiting for %u agent run%s in flight", n, n == 1 ? "" : "s");
                        shown = n;
                }

                /* in-flight work is never cut short before the deadline; after it, the upgrade fails and
                 * the rollback undoes the drain */
                now = now_monotonic();
                if (now >= deadline)
                        return log_error_errno(
                                ETIME,
                                "%u agent run%s still in flight when [Timeouts] Drain= (%llus) ran out: not "
                                "stopping the server under them.",
                                n,
                                n == 1 ? "" : "s",
                                (unsigned long long)(h->config.timeout_drain / USEC_PER_SEC));
                /* the last count comes at the deadline itself */
                /* a signal (SIGTERM) cuts the sleep short */
                if (!helper_cancelled)
                        sleep_until(
                                deadline - now > DRAIN_POLL_INTERVAL ? now + DRAIN_POLL_INTERVAL : deadline);
        }
        log_info("No agent run in flight any more.");
        return 0;
}

/* ---- (c2) the backup, once more ---- */

/* The dump and the config files of the backup are what a restore needs most. Found changed since the
 * backup verified them (a disk fault) before the server is drained, the upgrade ends aborted with the
 * server serving, untouched. The store copies are compared with the stopped stores by snapshot. */
static int verify_backup_again(Helper *h) {
        _cleanup_free_ char *path = NULL, *backup = NULL, *error = NULL;
        _cleanup_json_ cJSON *manifest = NULL;
        _cleanup_file_list_ BackupFileList *files = NULL;
        int r;

        backup = strdup(strempty(h->current.backup));
        if (!backup)
                return log_oom();
        if (!*backup)
                return log_error_errno(ENOENT, "current.json names no backup: refusing to stop the server.");
        log_status("drain: verifying the backup's dump and config files once more");
        if (asprintf(&path, "%s/" BACKUP_MANIFEST_FILE, backup) < 0)
                return log_oom();
        r = state_read_json(path, &manifest);
        if (r < 0)
                return log_error_errno(r, "Failed to read the backup's manifest %s: %m", path);
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(manifest, "verified")))
                return log_error_errno(
                        EBADMSG,
                        "The backup %s is not marked verified: refusing to stop the server.",
                        backup);
        /* only the files outside the stores: the list's other lines are read, checksummed, not kept */
        r = backup_manifest_load_list(backup, manifest, BACKUP_MANIFEST_STORES "/", false, &files, &error);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Failed to read the backup's checksums (%s): the backup is not reliable, so the "
                        "server is not drained or stopped.",
                        error ?: strerror(-r));
        for (size_t i = 0; i < files->n; i++) {
                _cleanup_free_ char *file = NULL, *sum = NULL;
                char want[2 * BACKUP_LIST_VALUE_SIZE + 1];

                if (asprintf(&file, "%s/%s", backup, backup_list_path(files, i)) < 0)
                        return log_oom();
                r = hash_sha256_file(file, &sum);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the backup file %s: %m", file);
                backup_list_value_hex(files->entries[i].value, want);
                if (!streq(sum, want))
                        return log_error_errno(
                                EBADMSG,
                                "The backup file %s changed since it was verified: the backup is not "
                                "reliable, so the server is not drained or stopped.",
                                file);
        }
        log_info(
                "Backup %s: the dump and %zu files verified again before the stop.",
                backup,
                files->n > 0 ? files->n - 1 : 0);
        return 0;
}

/* The snapshot's CREATE DATABASE … STRATEGY FILE_COPY begins with a checkpoint, inside the downtime,
 * which writes out every page changed since the last one: the backup's trial restore alone leaves many.
 * One now, while the server still serves, leaves that one little to write. Only a warning when it
 * fails: the role may lack the right (superuser or pg_checkpoint), and the snapshot checkpoints anyway. */
static void checkpoint_ahead(Helper *h) {
        _cleanup_free_ char *error = NULL;
        PgTarget admin;

        /* delta and auto may take the template copy at the stop too */
        if (h->config.snapshot == SNAPSHOT_DUMP || h->config.snapshot == SNAPSHOT_NONE ||
            current_database_shared(&h->current))
                return;
        log_status("drain: checkpointing PostgreSQL ahead of the snapshot");
        if (helper_pg_target(h, "postgres", &admin) < 0 || pg_exec(&admin, "CHECKPOINT", &error) < 0)
                log_warning(
                        "No checkpoint ahead of the snapshot (%s): its own takes longer, inside the "
                        "downtime.",
                        error ?: "out of memory");
}

/* Snapshot=delta: the slot's changes so far read into the backup ahead of the stop, made durable, and
 * the slot advanced past them, so that at the stop the snapshot decodes only the WAL written since: the
 * trial restore's, which is as large as the database, is behind the slot by then (docs/architecture.md,
 * "Snapshot=delta"). Decoding starts again where the slot last saw no transaction running (a checkpoint,
 * checkpoint_ahead()'s), once a COMMIT after it is confirmed: the transactional message written first
 * is that COMMIT even when nothing else wrote. Only a shortcut: on any failure the snapshot reads every
 * change from the slot. */
static void delta_read_ahead(Helper *h) {
        _cleanup_(pg_slot_changes_done) PgSlotChanges c = {};
        _cleanup_free_ char *path = NULL, *error = NULL, *wal = NULL;
        _cleanup_close_ int fd = -EBADF, dir_fd = -EBADF;
        const char *slot = h->current.delta_slot;
        PgTarget target;
        int r;

        if (!slot || !h->current.backup || current_database_shared(&h->current))
                return;
        if (asprintf(&path, "%s/" BACKUP_MANIFEST_DELTA, h->current.backup) < 0 ||
            helper_pg_target(h, h->config.db_name, &target) < 0) {
                path = NULL;
                log_oom();
                return;
        }
        log_status("drain: reading the changes since the backup ahead of the stop (slot %s)", slot);
        /* a COMMIT of this database after the checkpoint, for the slot to be advanced to; it replays as
         * nothing. Superusers may write one (others when granted): without it, the read ahead may not
         * move the point decoding starts from */
        r = pg_query(
                &target,
                "SELECT pg_catalog.pg_logical_emit_message(true, 'codebolt-upgrade', 'read ahead of the "
                "stop')",
                NULL,
                0,
                NULL,
                &error);
        if (r < 0)
                log_debug("No logical decoding message before the read ahead: %s", error ?: "");
        free(TAKE_PTR(error));
        fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        dir_fd = open(h->current.backup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || dir_fd < 0) {
                log_warning_errno(
                        errno, "Not reading the changes ahead of the stop: cannot open %s: %m", path);
                return;
        }
        r = pg_slot_changes_to_fd(&target, slot, fd, true, &c, &error);
        if (r < 0) {
                log_warning_errno(
                        r, "Not reading the changes ahead of the stop: slot %s: %s", slot, error ?: "");
                return;
        }
        /* on disk, its name too, before the slot forgets them */
        if (fsync(fd) < 0 || fsync(dir_fd) < 0) {
                log_warning_errno(
                        errno, "Not reading the changes ahead of the stop: cannot write %s: %m", path);
                return;
        }
        if (!c.last_commit)
                return;
        free(TAKE_PTR(error));
        r = pg_slot_advance(&target, slot, c.last_commit, &error);
        if (r < 0) {
                log_warning_errno(
                        r, "Not advancing the slot %s past the changes read ahead: %s", slot, error ?: "");
                return;
        }
        wal = backup_manifest_format_bytes(c.wal_bytes);
        log_info(
                "Read %" PRIu64
                " changes since the backup ahead of the stop into %s (decoding read %s of WAL); the slot "
                "%s goes on from %s.",
                c.changes,
                path,
                wal ?: "an unknown amount",
                slot,
                c.last_commit);
}

/* ---- (d) stop the server ---- */

static int stop_server(Helper *h, sd_bus *bus) {
        _cleanup_(bus_stop_failure_done) BusStopFailure f = {};
        _cleanup_free_ char *stopped_at = NULL;
        const char *unit = h->config.server_unit;
        int r;

        log_status("drain: stopping %s", h->config.server_unit);

        /* before the request: from here on the rollback must assume the server may be down */
        r = helper_set_current_bool(h, CURRENT_SERVER_STOPPED, offsetof(Current, server_stopped), true);
        if (r < 0)
                return r;
        stopped_at = current_timestamp();
        if (!stopped_at)
                return log_oom();
        /* the start of the downtime, which finish records for the next announcement's estimate */
        r = helper_set_current_string(h, CURRENT_STOPPED_AT, offsetof(Current, stopped_at), stopped_at);
        if (r < 0)
                return r;

        r = bus_stop_unit_verified(bus, unit, helper_deadline(h->config.timeout_drain), 0, &f);
        if (helper_cancelled)
                return log_error_errno(
                        ECANCELED, "Stopped by signal %d while stopping %s.", (int)helper_cancelled, unit);
        if (r < 0)
                switch (f.step) {
                case BUS_STOP_STEP_JOB:
                        return log_error_errno(r, "Failed to stop %s: %s", unit, f.error ?: strerror(-r));
                case BUS_STOP_STEP_JOB_RESULT:
                        return log_error_errno(
                                r, "Stopping %s ended with job result '%s'.", unit, f.job_result);
                case BUS_STOP_STEP_READ_STATE:
                        return log_error_errno(
                                r, "Failed to read the state of %s after stopping it: %m", unit);
                case BUS_STOP_STEP_NOT_STOPPED:
                        return log_error_errno(
                                r,
                                "%s is %s (%s) after its stop job, not inactive.",
                                unit,
                                f.active_state,
                                f.sub_state);
                }
        log_info("%s stopped.", unit);
        return 0;
}

static int run(Helper *h) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *token = NULL, *active = NULL, *sub = NULL, *login_error = NULL;
        int r;

        r = bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");

        r = take_inhibitor(h, bus);
        if (r < 0)
                return r;

        /* before the server is asked for anything: a failure here leaves it serving, untouched */
        r = verify_backup_again(h);
        if (r < 0)
                return r;
        checkpoint_ahead(h);
        delta_read_ahead(h);

        r = bus_unit_get_state(bus, h->config.server_unit, &active, &sub);
        if (r < 0)
                return log_error_errno(r, "Failed to read the state of %s: %m", h->config.server_unit);

        if (streq(active, "active")) {
                /* the balancer first: no new session reaches the server while it drains */
                r = balancer_take_out(h);
                if (r < 0)
                        return r;
                log_status("drain: asking the server to take no new agent runs");
                r = helper_login(&h->config, &token, &login_error);
                if (r < 0)
                        return login_error ? log_error_errno(r, "%s", login_error) : log_oom();
                r = request_drain(h, token);
                if (r < 0)
                        return r;
                r = wait_for_runs(h, token);
                if (r < 0)
                        return r;
                r = balancer_wait_grace(&h->config);
                if (r < 0)
                        return r;
        } else
                /* nothing serves, so nothing is in flight: only make sure it stays down */
                log_notice("%s is %s (%s): nothing to drain.", h->config.server_unit, active, sub);

        return stop_server(h, bus);
}

int main(int argc, char *argv[]) {
        return helper_main(argc, argv, "drain", 0, run);
}
