/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli-upgrade.c: `codebolt-upgrade upgrade`, the front door: the plan's summary, a confirmation on a
 * terminal, then codebolt-upgrade@VERSION started and followed to its end (cli-follow.c) */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bus.h"
#include "cli.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "plan.h"
#include "release.h"
#include "unitname.h"

/* y or yes on the terminal; anything else, or the end of input, is no. The question goes where the
 * person typing sees it: standard output, or standard error when that is a pipe (`upgrade | tee`) or
 * holds JSON. */
static bool confirm(const Plan *plan, const Config *c) {
        FILE *out = isatty(STDOUT_FILENO) && !arg_json ? stdout : stderr;
        char answer[16] = "";

        fflush(stdout);
        fprintf(out, "Upgrade deployment %s from %s to %s now? [y/N] ", c->deployment, plan->from, plan->to);
        fflush(out);
        if (!fgets(answer, sizeof(answer), stdin))
                return false;
        answer[strcspn(answer, "\n")] = 0;
        return strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0;
}

int verb_upgrade(int argc, char *argv[], void *userdata) {
        const Config *c = userdata;
        const char *version = argv[1];
        _cleanup_(plan_done) Plan plan = {};
        _cleanup_free_ char *from = NULL, *instance = NULL, *unit = NULL, *rollback = NULL;
        int r;

        if (argc != 2) {
                log_error("Usage: codebolt-upgrade upgrade VERSION [--yes] [--no-follow]");
                return 2;
        }
        if (cli_require_exact_version(version) < 0)
                return 2;
        r = release_current_version(&from);
        if (r < 0) {
                log_error_errno(
                        r,
                        "Cannot tell the running version: %s/current is not a symlink to "
                        "releases/<version> (%m).",
                        paths_install_root());
                return 2;
        }

        /* the same gates preflight runs: a refusal here touched nothing */
        r = plan_make(c, from, version, &plan);
        if (r < 0)
                return log_oom();
        if (!arg_json)
                plan_print(&plan, stdout);
        if (!plan.proceed) {
                const Gate *g = plan_first_failure(&plan);
                log_error(
                        "Refused: %s (gate %s). Nothing was changed.",
                        g ? g->reason : "a gate failed",
                        g ? g->name : "?");
                return 2;
        }
        /* someone at a terminal is asked, even when the output goes to a pipe; a script (no terminal on
         * standard input) is not */
        if (!arg_yes && isatty(STDIN_FILENO) && !confirm(&plan, c)) {
                printf("Nothing was done.\n");
                return 2;
        }

        if (unitname_instance_for_version(version, &instance) < 0 ||
            !(unit = cli_deployment_unit(c, "upgrade", instance)) ||
            !(rollback = cli_deployment_unit(c, "rollback", instance)))
                return log_oom();
        if (arg_no_follow) {
                _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
                _cleanup_free_ char *error = NULL;
                r = bus_open_system(&bus);
                if (r >= 0)
                        r = bus_queue_start_unit(bus, unit, &error);
                if (r < 0) {
                        log_error_errno(r, "Failed to start %s: %s", unit, error ?: strerror(-r));
                        return 2;
                }
                printf("Started %s. Follow it: codebolt-upgrade%s%s status --follow\n",
                       unit,
                       UNITNAME_DEPLOYMENT_OPTION(c->deployment));
                return 0;
        }
        return cli_follow(
                c,
                &(CliFollow){
                        .upgrade_unit = unit,
                        .rollback_unit = rollback,
                        .start_unit = unit,
                        .version = version,
                        .migrations_total = (unsigned)cJSON_GetArraySize(plan.migrations),
                        .since = now_realtime(),
                });
}
