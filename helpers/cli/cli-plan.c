/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli-plan.c: `codebolt-upgrade plan` (every gate of an upgrade, read-only) and `satisfies` (for hook
 * scripts) */
#define _GNU_SOURCE

#include "cli.h"
#include "helper.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "plan.h"
#include "release.h"
#include "semver.h"

/* every gate of an upgrade to version, read-only (docs/architecture.md, "Commands": `plan`): exit 0 when it
 * would proceed */
int verb_plan(int argc, char *argv[], void *userdata) {
        const Config *c = userdata;
        const char *version = argv[1];
        _cleanup_(plan_done) Plan plan = {};
        _cleanup_free_ char *from = NULL;
        int r;

        r = cli_require_exact_version(version);
        if (r < 0)
                return r;
        r = release_current_version(&from);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Cannot tell the running version: %s/current is not a symlink to "
                        "releases/<version> (%m).",
                        paths_install_root());

        r = plan_make(c, from, version, &plan);
        if (r < 0)
                return log_oom();
        if (arg_json) {
                _cleanup_json_ cJSON *o = plan_to_json(&plan);
                _cleanup_free_ char *s = o ? cJSON_Print(o) : NULL;
                if (!s)
                        return log_oom();
                puts(s);
        } else
                plan_print(&plan, stdout);
        return plan.proceed ? 0 : -EPERM;
}

/* `satisfies <version> <range>` for hook scripts: 0 yes, 1 no, 2 malformed (with the reason) */
int verb_satisfies(int argc, char *argv[], void *userdata) {
        const char *version = argv[1], *range = argv[2];
        SemVer v = {};
        int r;

        r = semver_parse(version, &v);
        if (r < 0) {
                log_error("'%s' is not an exact version: %s.", version, semver_why_invalid(version));
                return 2;
        }
        r = semver_range_satisfies(range, &v);
        semver_done(&v);
        if (r < 0) {
                log_error("'%s' is not a valid version range.", range);
                return 2;
        }
        return r > 0 ? 0 : 1;
}
