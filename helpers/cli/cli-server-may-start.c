/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli-server-may-start.c: `codebolt-upgrade server-may-start`, the server unit's ExecCondition= */
#define _GNU_SOURCE

#include <stdlib.h>

#include "cli.h"
#include "helper.h"
#include "current.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "maystart.h"
#include "paths.h"
#include "release.h"
#include "state.h"

/* `server-may-start`, the server unit's ExecCondition=: 0 start, 1 skip this start (docs/architecture.md,
 * "Phases"). Fast, no network, no D-Bus. Its messages go to the server unit's journal. A config that does
 * not load still refuses a start while an upgrade is in flight; it only skips the pin check. */
int verb_server_may_start(int argc, char *argv[], void *userdata) {
        const char *deployment = arg_deployment ?: getenv("CODEBOLT_DEPLOYMENT");
        _cleanup_(maystart_done) MayStart decision = {};
        _cleanup_json_ cJSON *pkg = NULL;
        _cleanup_(current_done) Current current = {};
        _cleanup_free_ char *starter = NULL, *error = NULL, *pin = NULL, *pin_path = NULL, *linked = NULL,
                            *current_dir = NULL;
        Config c = {};
        int r;

        /* to the server unit's journal */
        log_set_target(LOG_TARGET_AUTO);
        r = helper_config_load(deployment, &c, "the pin is not checked for this start");
        if (r < 0) {
                if (config_init_defaults(&c) < 0)
                        return log_oom(), 1;
                if (deployment && *deployment) {
                        free(c.deployment);
                        c.deployment = strdup(deployment);
                        if (!c.deployment)
                                return log_oom(), 1;
                }
                c.enforce_pin = ENFORCE_PIN_NO;
        }
        log_set_deployment(c.deployment);

        r = current_load(c.deployment, &current, &error);
        if (r < 0 && r != -ENOENT) {
                log_error_errno(
                        r,
                        "Refusing to start %s: current.json of deployment %s cannot be read (%s), so an "
                        "upgrade may be in flight. See: codebolt-upgrade status",
                        c.server_unit,
                        c.deployment,
                        error ?: strerror(-r));
                config_done(&c);
                return 1;
        }
        bool in_flight = r >= 0;
        r = maystart_read_starter(c.deployment, &starter);
        if (r < 0)
                log_warning_errno(r, "Failed to read who starts %s: %m", c.server_unit);

        pin_path = paths_state_file(c.deployment, "pin");
        current_dir = paths_current_link();
        if (!pin_path || !current_dir) {
                config_done(&c);
                return log_oom(), 1;
        }
        r = state_read_string(pin_path, &pin);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to read the pin %s: %m", pin_path);
        (void)release_current_version(&linked);
        (void)release_package_json(current_dir, c.package, &pkg);

        MayStartInput in = {
                .current = in_flight ? &current : NULL,
                .starter = starter,
                .pin = pin && *pin ? pin : NULL,
                .installed = json_get_string(pkg, "version"),
                .linked = linked,
                .enforce_pin = c.enforce_pin,
                .package = c.package,
                .deployment = c.deployment,
                .server_unit = c.server_unit,
                .install_root = c.install_root,
        };
        r = maystart_decide(&in, &decision);
        config_done(&c);
        if (r < 0)
                return log_oom(), 1;
        for (size_t i = 0; i < decision.n_notes; i++)
                log_full(decision.notes[i].priority, 0, "%s", decision.notes[i].text);
        return decision.start ? 0 : 1;
}
