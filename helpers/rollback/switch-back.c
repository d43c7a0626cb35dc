/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* switch-back.c: the release and the pin: back to the version the upgrade came from */
#define _GNU_SOURCE

#include "current.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "release.h"
#include "state.h"
#include "rollback.h"

int switch_back(Rollback *rb) {
        _cleanup_free_ char *pin = paths_state_file(rb->h->config.deployment, "pin"), *content = NULL;
        int r;

        if (!rb->current.from)
                return rb_fail(rb, EINVAL, "current.json records no version to go back to.");
        if (!pin || asprintf(&content, "%s\n", rb->current.from) < 0)
                return rb_oom(rb);

        log_status(
                "rollback: pinning %s and pointing %s/current back at it",
                rb->current.from,
                paths_install_root());
        r = state_write_string_atomic(pin, content, 0644);
        if (r < 0)
                return rb_fail(rb, r, "Failed to write the pin %s: %m", pin);
        r = release_switch(rb->current.from);
        if (r == -ENOENT)
                return rb_fail(
                        rb, r, "The release %s to go back to is not installed any more.", rb->current.from);
        if (r < 0)
                return rb_fail(
                        rb,
                        r,
                        "Failed to point %s/current at releases/%s: %m",
                        paths_install_root(),
                        rb->current.from);

        rb->current.rollback_switched_back = true;
        r = rb_save(rb);
        if (r < 0)
                return r;
        log_info("Pinned %s and pointed %s/current back at it.", rb->current.from, paths_install_root());
        return 0;
}
