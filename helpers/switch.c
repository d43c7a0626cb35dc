/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* switch: move the pin and /opt/codebolt/current to the staged release, each with one rename(2) */
#define _GNU_SOURCE

#include "helper.h"
#include "current.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "release.h"
#include "state.h"

static int run(Helper *h) {
        _cleanup_free_ char *pin = paths_state_file(h->config.deployment, "pin"), *content = NULL;
        int r;

        if (!pin || asprintf(&content, "%s\n", h->version) < 0)
                return log_oom();

        if (!h->current.server_stopped)
                return log_error_errno(
                        EBUSY,
                        "Refusing to switch releases while %s may still run: drain did not stop it.",
                        h->config.server_unit);
        if (!current_phase_is_done(&h->current, "stage"))
                return log_error_errno(ENOENT, "Refusing to switch: %s was never staged.", h->version);

        log_status("switch: pinning %s and pointing %s/current at it", h->version, paths_install_root());

        /* the rollback compares both against "from" whatever this records, so the order is free */
        r = state_write_string_atomic(pin, content, 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write the pin %s: %m", pin);
        r = release_switch(h->version);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Failed to point %s/current at releases/%s: %m",
                        paths_install_root(),
                        h->version);

        r = helper_set_current_bool(h, CURRENT_SWITCHED, offsetof(Current, switched), true);
        if (r < 0)
                return r;
        log_info(
                "Switched deployment %s from %s to %s; %s stays installed for a rollback.",
                h->config.deployment,
                strempty(h->current.from),
                h->version,
                strempty(h->current.from));
        return 0;
}

int main(int argc, char *argv[]) {
        return helper_main(argc, argv, "switch", 0, run);
}
