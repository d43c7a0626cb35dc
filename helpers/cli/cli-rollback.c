/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli-rollback.c: `codebolt-upgrade rollback` (a late rollback by hand) and `clear` (a failed version may be
 * tried again) */
#define _GNU_SOURCE

#include <fcntl.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

#include "bus.h"
#include "cli.h"
#include "prune.h"
#include "current.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "metrics-file.h"
#include "paths.h"
#include "state.h"
#include "unitname.h"
#include "time-util.h"

int verb_clear(int argc, char *argv[], void *userdata) {
        const Config *c = userdata;
        const char *version = argv[1];
        _cleanup_json_ cJSON *ledger = NULL;
        _cleanup_(current_done) Current current = {};
        _cleanup_free_ char *now = current_timestamp(), *instance = NULL, *unit = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        int r;

        if (!now)
                return log_oom();
        r = cli_require_exact_version(version);
        if (r < 0)
                return r;

        r = cli_lock_and_load(c, &lock_fd, &ledger, &current);
        if (r < 0)
                return r;

        /* a held upgrade of this version is closed: the operator finished it by hand */
        if (r > 0) {
                _cleanup_free_ char *aside = NULL;

                if (!streq_ptr(current.to, version) || !current.held)
                        return log_error_errno(
                                EBUSY,
                                "An upgrade to %s is in flight on deployment %s (phase %s): clear only "
                                "closes a held one.",
                                strempty(current.to),
                                c->deployment,
                                strempty(current.phase));
                if (asprintf(&aside, "held-%s-%s.json", version, now) < 0)
                        return log_oom();
                r = current_set_aside(c->deployment, aside);
                if (r < 0)
                        return log_error_errno(r, "Failed to close the held upgrade to %s: %m", version);
                printf("Closed the held upgrade to %s (its state is kept as %s).\n", version, aside);
                metrics_update(c);
        }

        r = ledger_clear_failed(ledger, version, now);
        if (r < 0)
                return log_oom();
        if (r == 0) {
                printf("%s is not marked failed on deployment %s: nothing to clear.\n",
                       version,
                       c->deployment);
                return 0;
        }
        r = ledger_save(c->deployment, ledger);
        if (r < 0)
                return log_error_errno(r, "Failed to write the ledger of deployment %s: %m", c->deployment);
        helper_export_ledger(c, ledger);

        if (unitname_instance_for_version(version, &instance) < 0 ||
            !(unit = cli_deployment_unit(c, "upgrade", instance)))
                return log_oom();
        printf("%s may be tried again on deployment %s: systemctl start %s\n", version, c->deployment, unit);
        return 0;
}

/* The unit's messages since `since` (CLOCK_REALTIME usec), notice and worse: what the operator needs to
 * read. By the unit name, not its invocation id: a oneshot unit that ended well is unloaded at once, and
 * its InvocationID goes with it. */
static void print_unit_messages(const char *unit, uint64_t since) {
        _cleanup_free_ char *match = NULL;
        sd_journal *j = NULL;
        const void *data;
        size_t size;

        if (asprintf(&match, "_SYSTEMD_UNIT=%s", unit) < 0 || sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY) < 0)
                return;
        if (sd_journal_add_match(j, match, 0) >= 0 && sd_journal_seek_realtime_usec(j, since) >= 0)
                while (sd_journal_next(j) > 0) {
                        if (sd_journal_get_data(j, "PRIORITY", &data, &size) < 0 || size != 10 ||
                            ((const char *)data)[9] > '0' + LOG_NOTICE)
                                continue;
                        if (sd_journal_get_data(j, "MESSAGE", &data, &size) >= 0)
                                printf("  %.*s\n", (int)(size - 8), (const char *)data + 8);
                }
        sd_journal_close(j);
}

/* a late rollback by hand (docs/architecture.md, "Late rollback"): start the rollback unit, wait for it, and
 * say what it did. With
 * --discard-since the unit may do a full restore, which discards what was written since the upgrade. */
int verb_rollback(int argc, char *argv[], void *userdata) {
        const Config *c = userdata;
        const char *version = argv[1];
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *instance = NULL, *unit = NULL, *flag = NULL, *result = NULL, *error = NULL;
        _cleanup_json_ cJSON *ledger = NULL;
        const cJSON *entry;
        uint64_t since;
        int r;

        r = cli_require_exact_version(version);
        if (r < 0)
                return r;
        if (unitname_instance_for_version(version, &instance) < 0 ||
            unitname_deployment_unit("rollback", c->deployment, instance, &unit) < 0)
                return log_oom();

        if (arg_discard_since) {
                _cleanup_free_ char *content = NULL, *dir = NULL;
                flag = paths_discard_flag(c->deployment);
                dir = paths_rooted("/run/codebolt-upgrade");
                if (!flag || !dir || asprintf(&content, "%s\n", version) < 0)
                        return log_oom();
                r = paths_mkdir_p(dir, 0755);
                if (r >= 0)
                        r = state_write_string_atomic(flag, content, 0600);
                if (r < 0)
                        return log_error_errno(r, "Failed to write %s: %m", flag);
        }

        r = bus_open_system(&bus);
        if (r < 0) {
                if (flag)
                        (void)unlink(flag);
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        }
        printf("Starting %s and waiting for it…\n", unit);
        since = now_realtime();
        r = bus_start_unit(bus, unit, USEC_INFINITY, &result, &error);
        /* taken by the unit when it ran; never left for a later start */
        if (flag)
                (void)unlink(flag);
        if (r < 0)
                return log_error_errno(r, "Failed to start %s: %s", unit, error ?: strerror(-r));
        print_unit_messages(unit, since);

        if (!streq(result, "done"))
                return log_error_errno(
                        EIO,
                        "%s did not roll back (job result '%s'); the reason is above and in: journalctl -u "
                        "%s",
                        unit,
                        result,
                        unit);
        if (ledger_load(c->deployment, &ledger) >= 0 && (entry = ledger_last_for_version(ledger, version)))
                printf("Deployment %s: the upgrade to %s is %s; %s runs. %s stays marked failed until "
                       "codebolt-upgrade clear %s.\n",
                       c->deployment,
                       version,
                       cli_str_or(entry, "result", "?"),
                       cli_str_or(entry, "from", "the previous version"),
                       version,
                       version);
        return 0;
}
