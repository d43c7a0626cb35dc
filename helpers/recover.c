/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* recover: at boot, and after the server is up again, resolve every upgrade a crash interrupted */
#define _GNU_SOURCE

#include "bus.h"
#include "config.h"
#include "current.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "spawn.h"
#include "unitname.h"

/* 1 when a unit is starting, running or stopping, 0 when not (or unknown to systemd) */
static int unit_is_working(const char *unit) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *active = NULL, *sub = NULL;
        int r;

        if (!unit)
                return 0;
        r = bus_open_system(&bus);
        if (r < 0)
                return r;
        r = bus_unit_get_state(bus, unit, &active, &sub);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return streq_ptr(active, "activating") || streq_ptr(active, "active") ||
               streq_ptr(active, "deactivating") || streq_ptr(active, "reloading");
}

/* current.json as the rollback reads it: one with a wrongly typed key is still an upgrade to resolve */
static int recover_load(const char *deployment, Current *ret) {
        _cleanup_strv_free_ char **problems = NULL;
        int r;

        r = current_load_lenient(deployment, ret, NULL, &problems);
        if (r < 0)
                return r;
        STRV_FOREACH (p, problems)
                log_warning("current.json of deployment %s: %s; resolving it all the same.", deployment, *p);
        return 0;
}

/* Recovery of one deployment is `rollback --recover <instance>` (before the server starts: put back
 * the database, stores, release and pin, never start the server) or `rollback --recover-check
 * <instance>` (after it started: smoke test and ledger). Both decide from current.json alone. */
static int recover_deployment(const char *deployment, const char *mode) {
        _cleanup_(current_done) Current current = {};
        _cleanup_free_ char *env_deployment = NULL, *env_root = NULL;
        const char *instance, *root = getenv("CODEBOLT_UPGRADE_ROOT");
        char *env[5] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LANG=C.UTF-8" };
        size_t n = 2;
        int r, status = 0;

        r = recover_load(deployment, &current);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to read current.json of deployment %s: %m", deployment);
        instance = current.instance;
        if (!instance)
                return log_error_errno(
                        EBADMSG,
                        "current.json of deployment %s names no upgrade unit instance.",
                        deployment);

        if (!config_deployment_is_default(deployment)) {
                if (asprintf(&env_deployment, "CODEBOLT_DEPLOYMENT=%s", deployment) < 0)
                        return log_oom();
                env[n++] = env_deployment;
        }
        if (root) {
                if (asprintf(&env_root, "CODEBOLT_UPGRADE_ROOT=%s", root) < 0)
                        return log_oom();
                env[n++] = env_root;
        }

        /* the server's start pulls this in at any time: an upgrade or rollback that a unit is still
         * working on was not interrupted, and is not ours to touch */
        r = unit_is_working(current.unit);
        if (r == 0) {
                _cleanup_free_ char *rollback_unit = NULL;
                if (unitname_deployment_unit("rollback", deployment, instance, &rollback_unit) < 0)
                        return log_oom();
                r = unit_is_working(rollback_unit);
        }
        if (r < 0)
                return log_error_errno(
                        r,
                        "Failed to ask systemd whether the upgrade of deployment %s is running: %m",
                        deployment);
        if (r > 0) {
                log_info(
                        "Deployment %s: the upgrade to %s is in progress, not interrupted: nothing to "
                        "recover.",
                        deployment,
                        strempty(current.to));
                return 0;
        }

        log_info(
                "Deployment %s: the upgrade to %s was interrupted in phase %s; resolving it (%s).",
                deployment,
                strempty(current.to),
                strempty(current.phase),
                mode);
        char *argv[] = { (char *)LIBEXECDIR "/rollback", (char *)mode, (char *)instance, NULL };
        SpawnOptions o = { .env = env, .phase = "recover", .log_identifier = "rollback" };
        r = spawn_run(argv, &o, &status);
        if (r < 0)
                return log_error_errno(r, "Failed to run the rollback of deployment %s: %m", deployment);
        if (status != 0)
                return log_error_errno(
                        EIO,
                        "The recovery of deployment %s did not finish (rollback exited %d).",
                        deployment,
                        status);
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_strv_free_ char **deployments = NULL;
        const char *mode;
        int r, ret = 0;

        log_setup("codebolt-upgrade-recover", "recover");
        if (argc != 2 || (!streq(argv[1], "--boot") && !streq(argv[1], "--check"))) {
                fprintf(stderr, "Usage: %s --boot|--check\n", argv[0]);
                return 2;
        }
        mode = streq(argv[1], "--boot") ? "--recover" : "--recover-check";

        r = config_list_deployments(NULL, &deployments);
        if (r < 0)
                log_warning_errno(
                        r, "Failed to list the extra deployments: %m; recovering the default one only.");

        if (recover_deployment("default", mode) < 0)
                ret = 1;
        STRV_FOREACH (d, deployments)
                if (config_deployment_name_is_valid(*d) && recover_deployment(*d, mode) < 0)
                        ret = 1;
        return ret;
}
