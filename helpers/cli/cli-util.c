/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli-util.c: what the verbs of codebolt-upgrade share: the state lock, the loads, small formatting */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>

#include "cli.h"
#include "current.h"
#include "json-util.h"
#include "ledger.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "semver.h"
#include "unitname.h"

const char *cli_str_or(const cJSON *o, const char *key, const char *fallback) {
        const char *s = json_get_string(o, key);
        return cli_or(s, fallback);
}

const char *cli_or(const char *s, const char *fallback) {
        return s && *s ? s : fallback;
}

int cli_require_exact_version(const char *version) {
        SemVer v = {};
        int r;

        r = semver_parse(version, &v);
        semver_done(&v);
        if (r < 0)
                return log_error_errno(EINVAL, "Refusing '%s': %s.", version, semver_why_invalid(version));
        return 0;
}

char *cli_deployment_unit(const Config *c, const char *kind, const char *instance) {
        char *unit;

        return unitname_deployment_unit(kind, c->deployment, instance, &unit) < 0 ? NULL : unit;
}

int cli_load_current(const Config *c, Current *ret_current) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = current_load(c->deployment, ret_current, &error);
        if (r == -ENOENT)
                return 0;
        if (r < 0 && error)
                return log_error_errno(
                        r, "Failed to read current.json of deployment %s: %s", c->deployment, error);
        if (r < 0)
                return log_error_errno(r, "Failed to read current.json of deployment %s: %m", c->deployment);
        return 1;
}

int cli_load_ledger(const Config *c, cJSON **ret_ledger) {
        int r;

        r = ledger_load(c->deployment, ret_ledger);
        if (r < 0)
                return log_error_errno(r, "Failed to read the ledger of deployment %s: %m", c->deployment);
        return 0;
}

int cli_lock_and_load(const Config *c, int *ret_lock_fd, cJSON **ret_ledger, Current *ret_current) {
        _cleanup_json_ cJSON *ledger = NULL;
        _cleanup_(current_done) Current current = {};
        _cleanup_close_ int fd = -EBADF;
        int r, loaded = 0;

        assert(ret_lock_fd);

        r = lock_acquire_deployment(c->deployment, true, &fd);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to take the state lock of deployment %s: %m", c->deployment);
        if (ret_ledger) {
                r = cli_load_ledger(c, &ledger);
                if (r < 0)
                        return r;
        }
        if (ret_current) {
                loaded = cli_load_current(c, &current);
                if (loaded < 0)
                        return loaded;
        }

        *ret_lock_fd = TAKE_FD(fd);
        if (ret_ledger)
                *ret_ledger = TAKE_PTR(ledger);
        if (loaded) {
                *ret_current = current;
                current = (Current){};
        }
        return loaded;
}
