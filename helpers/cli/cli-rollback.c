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

/* a late rollback by hand (docs/architecture.md, "Late rollback"): start the rollback unit, follow it
 * (cli_follow()), and say what it did. With
 * --discard-since the unit may do a full restore, which discards what was written since the upgrade. */
int verb_rollback(int argc, char *argv[], void *userdata) {
        const Config *c = userdata;
        const char *version = argv[1];
        _cleanup_free_ char *instance = NULL, *unit = NULL, *flag = NULL;
        int r, code;

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

        /* the unit takes the flag when it runs (the first run does, so it never lingers); a follower
         * that failed to start it removes it */
        code = cli_follow(
                c,
                &(CliFollow){
                        .rollback_unit = unit,
                        .start_unit = unit,
                        .version = version,
                        .since = now_realtime(),
                        .by_hand = true,
                });
        if (flag && code == 2)
                (void)unlink(flag);
        return code;
}
